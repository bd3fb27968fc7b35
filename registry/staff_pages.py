"""CoE staff's registry pages: new and changed tools, capabilities, processes, versions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect

from coe import policy
from coe.staff_pages import form_page
from registry import services
from registry.forms import CapabilityForm, ProcessForm, ProcessVersionForm, ToolForm
from registry.models import Capability, Process, Tool


@policy.page_rule()
def tool_create(request):
    form = ToolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        capabilities = data.pop("capabilities")
        if not data.get("slug"):
            data.pop("slug")
        try:
            tool = services.tool_create(capabilities=capabilities, actor=request.user, **data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Added tool {tool.name} to the registry.")
            return redirect(tool)
    return form_page(request, form, title="New tool", submit="Create tool", cancel_url="/registry/")


@policy.page_rule()
def tool_edit(request, slug: str):
    tool = get_object_or_404(Tool, slug=slug)
    form = ToolForm(request.POST or None, instance=tool)
    if request.method == "POST" and form.is_valid():
        tool = form.save()
        messages.success(request, f"Saved tool {tool.name}.")
        return redirect(tool)
    return form_page(
        request,
        form,
        title=f"Edit {tool.name}",
        submit="Save",
        cancel_url=tool.get_absolute_url(),
        intro="The ring changes on the tool's page, with a reason.",
    )


@policy.page_rule()
def capability_create(request):
    form = CapabilityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        capability = form.save()
        messages.success(request, f"Added capability {capability.name}.")
        return redirect("tech-radar")
    return form_page(
        request, form, title="New capability", submit="Create capability", cancel_url="/registry/"
    )


@policy.page_rule()
def capability_edit(request, slug: str):
    capability = get_object_or_404(Capability, slug=slug)
    form = CapabilityForm(request.POST or None, instance=capability)
    if request.method == "POST" and form.is_valid():
        capability = form.save()
        messages.success(request, f"Saved capability {capability.name}.")
        return redirect("capability-list")
    return form_page(
        request,
        form,
        title=f"Edit {capability.name}",
        submit="Save",
        cancel_url="/registry/capabilities/",
    )


@policy.page_rule()
def process_create(request):
    form = ProcessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        process = form.save()
        messages.success(request, f"Added process {process.name}.")
        return redirect("process-list")
    return form_page(
        request,
        form,
        title="New process",
        submit="Create process",
        cancel_url="/registry/processes/",
    )


@policy.page_rule()
def process_edit(request, slug: str):
    process = get_object_or_404(Process, slug=slug)
    form = ProcessForm(request.POST or None, instance=process)
    if request.method == "POST" and form.is_valid():
        process = form.save()
        messages.success(request, f"Saved process {process.name}.")
        return redirect("process-list")
    return form_page(
        request,
        form,
        title=f"Edit {process.name}",
        submit="Save",
        cancel_url="/registry/processes/",
    )


@policy.page_rule()
def process_version_create(request, slug: str):
    process = get_object_or_404(Process, slug=slug)
    form = ProcessVersionForm(request.POST or None, process=process)
    if request.method == "POST" and form.is_valid():
        version = form.save()
        messages.success(request, f"Released {process.name} {version.version}.")
        return redirect("process-list")
    return form_page(
        request,
        form,
        title=f"New version of {process.name}",
        submit="Release version",
        cancel_url="/registry/processes/",
    )
