"""CoE staff's registry pages beyond create and edit: the capability list, a process
version's edit, and deletion with a confirmation where nothing depends on the object
(a tool no factory uses, a capability without sub-capabilities, a process or version no
factory has adopted). Otherwise the confirmation page says why it cannot go."""

from __future__ import annotations

from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from coe import policy
from coe.staff_pages import delete_page, save_page
from registry.forms import ProcessVersionForm
from registry.models import Capability, Process, ProcessAdoption, ProcessVersion, Tool


@policy.page_rule()
def capability_list(request):
    capabilities = Capability.objects.select_related("parent").annotate(
        tool_count=Count("tools", distinct=True), child_count=Count("children", distinct=True)
    )
    return render(request, "registry/capability_list.html", {"capabilities": capabilities})


@policy.page_rule()
def capability_delete(request, slug: str):
    capability = get_object_or_404(Capability, slug=slug)
    children = capability.children.count()
    return delete_page(
        request,
        capability,
        what=f"capability {capability.name}",
        blocker=f"{children} capabilities sit under it." if children else "",
        consequence=(
            "Tools and processes lose this capability; its duplicate findings are deleted "
            "with it. This cannot be undone."
        ),
        back="/registry/capabilities/",
        done="capability-list",
    )


@policy.page_rule()
def tool_delete(request, slug: str):
    tool = get_object_or_404(Tool, slug=slug)
    users = tool.adoptions.values("factory").distinct().count()
    return delete_page(
        request,
        tool,
        what=f"tool {tool.name}",
        blocker=f"{users} factories use it; merge it into another tool instead." if users else "",
        consequence="Its aliases, ring history and ring overrides go with it.",
        back=tool.get_absolute_url(),
        done="tool-list",
    )


def _adopters(versions) -> int:
    return (
        ProcessAdoption.objects.filter(process_version__in=versions)
        .values("factory")
        .distinct()
        .count()
    )


@policy.page_rule()
def process_delete(request, slug: str):
    process = get_object_or_404(Process, slug=slug)
    adopters = _adopters(process.versions.all())
    return delete_page(
        request,
        process,
        what=f"process {process.name}",
        blocker=f"{adopters} factories adopted a version of it." if adopters else "",
        consequence="Its versions go with it. This cannot be undone.",
        back="/registry/processes/",
        done="process-list",
    )


def _version(slug: str, version: str) -> ProcessVersion:
    return get_object_or_404(
        ProcessVersion.objects.select_related("process"), process__slug=slug, version=version
    )


@policy.page_rule()
def process_version_edit(request, slug: str, version: str):
    obj = _version(slug, version)
    form = ProcessVersionForm(
        request.POST or None,
        process=obj.process,
        instance=obj,
        initial={"links_text": "\n".join(obj.links or [])},
    )
    return save_page(
        request,
        form,
        said=lambda saved: f"Saved {obj.process.name} {saved.version}.",
        done="process-list",
        title=f"Edit {obj.process.name} {obj.version}",
        submit="Save",
        cancel_url="/registry/processes/",
    )


@policy.page_rule()
def process_version_delete(request, slug: str, version: str):
    obj = _version(slug, version)
    adopters = _adopters([obj])
    return delete_page(
        request,
        obj,
        what=f"{obj.process.name} {obj.version}",
        blocker=f"{adopters} factories adopted it." if adopters else "",
        consequence="This version and its steps are deleted. This cannot be undone.",
        back="/registry/processes/",
        done="process-list",
    )
