"""CoE staff's registry pages: new and changed tools, capabilities, processes, versions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect

from coe import policy
from coe.staff_pages import form_page, save_page
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
    return save_page(
        request,
        ToolForm(request.POST or None, instance=tool),
        said=lambda saved: f"Saved tool {saved.name}.",
        title=f"Edit {tool.name}",
        submit="Save",
        cancel_url=tool.get_absolute_url(),
        intro="The ring changes on the tool's page, with a reason.",
    )


@policy.page_rule()
def capability_create(request):
    return save_page(
        request,
        CapabilityForm(request.POST or None),
        said=lambda capability: f"Added capability {capability.name}.",
        done="tech-radar",
        title="New capability",
        submit="Create capability",
        cancel_url="/registry/",
    )


@policy.page_rule()
def capability_edit(request, slug: str):
    capability = get_object_or_404(Capability, slug=slug)
    return save_page(
        request,
        CapabilityForm(request.POST or None, instance=capability),
        said=lambda saved: f"Saved capability {saved.name}.",
        done="capability-list",
        title=f"Edit {capability.name}",
        submit="Save",
        cancel_url="/registry/capabilities/",
    )


@policy.page_rule()
def process_create(request):
    return save_page(
        request,
        ProcessForm(request.POST or None),
        said=lambda process: f"Added process {process.name}.",
        done="process-list",
        title="New process",
        submit="Create process",
        cancel_url="/registry/processes/",
    )


@policy.page_rule()
def process_edit(request, slug: str):
    process = get_object_or_404(Process, slug=slug)
    return save_page(
        request,
        ProcessForm(request.POST or None, instance=process),
        said=lambda saved: f"Saved process {saved.name}.",
        done="process-list",
        title=f"Edit {process.name}",
        submit="Save",
        cancel_url="/registry/processes/",
    )


@policy.page_rule()
def process_version_create(request, slug: str):
    process = get_object_or_404(Process, slug=slug)
    return save_page(
        request,
        ProcessVersionForm(request.POST or None, process=process),
        said=lambda version: f"Released {process.name} {version.version}.",
        done="process-list",
        title=f"New version of {process.name}",
        submit="Release version",
        cancel_url="/registry/processes/",
    )
