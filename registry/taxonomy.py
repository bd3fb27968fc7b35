"""The default capability taxonomy for both kinds of factory, and its idempotent loader."""

from __future__ import annotations

from django.utils.text import slugify

# (group name, applies_to, [(capability name, description)])
DEFAULT_TAXONOMY: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Software delivery",
        "software",
        [
            ("Source control", "Version control of code and configuration."),
            ("CI/CD", "Build, test and deployment pipelines."),
            ("Artifact repository", "Binary and container artefact storage."),
            ("Issue tracking", "Backlogs, tickets and planning boards."),
            ("Documentation and knowledge", "Wikis and team knowledge bases."),
            ("Testing", "Test automation and test management."),
            ("Security scanning", "Static, dependency and container security analysis."),
            ("Code quality", "Static analysis and quality gates."),
            ("Container orchestration", "Running containers at scale."),
        ],
    ),
    (
        "Operations",
        "both",
        [
            ("Observability", "Metrics collection, monitoring and alerting."),
            ("Dashboards", "Visualisation of operational data."),
            ("Logging", "Log collection and search."),
            ("Application performance monitoring", "Tracing and APM."),
            ("Incident management", "On-call, paging and incident response."),
        ],
    ),
    (
        "Manufacturing operations",
        "manufacturing",
        [
            ("MES", "Manufacturing execution: orders, genealogy, work instructions."),
            ("SCADA/HMI", "Supervisory control and operator screens."),
            ("Historian", "Time-series process data storage."),
            ("PLC engineering", "Programming and versioning of controllers."),
            ("CMMS/maintenance", "Work orders, spare parts, preventive maintenance."),
            ("Predictive maintenance", "Condition monitoring and failure prediction."),
            ("Vision quality inspection", "Machine-vision inspection of parts."),
            ("Digital twin/simulation", "Simulation and digital twins of assets and lines."),
            ("IIoT platform", "Device connectivity and edge data pipelines."),
            ("CAD/CAM", "Product design and machining programs."),
        ],
    ),
    (
        "Enterprise",
        "both",
        [
            ("ERP", "Enterprise resource planning."),
            ("Collaboration", "Chat and team collaboration."),
        ],
    ),
]

IMPORTED_GROUP = "Imported"


def load_taxonomy(capability_model) -> int:
    """Create the default taxonomy where missing (by slug); returns how many were created.

    Takes the model class so the data migration can pass its historical model.
    """
    existing = set(capability_model.objects.values_list("slug", flat=True))
    created = 0
    for group_order, (group, applies_to, children) in enumerate(DEFAULT_TAXONOMY):
        group_slug = slugify(group)
        if group_slug not in existing:
            capability_model.objects.create(
                name=group, slug=group_slug, applies_to=applies_to, order=group_order
            )
            created += 1
        parent = capability_model.objects.get(slug=group_slug)
        for order, (name, description) in enumerate(children):
            slug = slugify(name.replace("/", " "))
            if slug in existing:
                continue
            capability_model.objects.create(
                name=name,
                slug=slug,
                parent=parent,
                applies_to=applies_to,
                description=description,
                order=order,
            )
            created += 1
    return created
