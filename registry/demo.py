"""The demo registry of Northwind Industrial (DEMO.md): tools with rings, costs and
aliases, the five reusable processes, every factory's adoptions, findings and a waiver.

Idempotent: tools by slug, adoptions by (factory, declared name), processes by slug;
detection keeps finding identities, and the waiver is only granted once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from coe.changelog import log_bulk
from registry import services
from registry.choices import AdoptionSource, FindingStatus, LicenceModel, Ring
from registry.detection import duplicates_detect
from registry.models import (
    Capability,
    DuplicateFinding,
    Process,
    ProcessAdoption,
    ProcessVersion,
    RingChange,
    Tool,
)
from registry.selectors import registry_resolver
from registry.taxonomy import load_taxonomy

M = "manufacturing"
OSS, SUB, PERP = LicenceModel.OPEN_SOURCE, LicenceModel.SUBSCRIPTION, LicenceModel.PERPETUAL

# name, vendor, capability slugs, ring, cost per seat, licence, aliases, homepage, description
TOOLS = [
    ("GitLab", "GitLab Inc.", ["source-control", "ci-cd"], Ring.ADOPT, 348, SUB,
     ["GitLab CI", "GitLab EE"], "https://about.gitlab.com", "The standard DevSecOps platform."),
    ("GitHub Actions", "GitHub", ["ci-cd"], Ring.TRIAL, 250, SUB, ["GH Actions"],
     "https://github.com/features/actions", "Hosted CI/CD on GitHub."),
    ("Jenkins", "Jenkins project", ["ci-cd"], Ring.HOLD, None, OSS, ["Hudson"],
     "https://www.jenkins.io", "Self-hosted automation server; costly to keep patched."),
    ("Bamboo", "Atlassian", ["ci-cd"], Ring.RETIRED, 120, PERP, [],
     "https://www.atlassian.com/software/bamboo", "Atlassian's CI server, end of life."),
    ("Jira", "Atlassian", ["issue-tracking"], Ring.ADOPT, 96, SUB, ["Jira Software"],
     "https://www.atlassian.com/software/jira", "The standard issue tracker."),
    ("Redmine", "Redmine", ["issue-tracking"], Ring.HOLD, None, OSS, [],
     "https://www.redmine.org", "Open-source tracker some legacy teams host themselves."),
    ("Confluence", "Atlassian", ["documentation-and-knowledge"], Ring.ADOPT, 66, SUB, [],
     "https://www.atlassian.com/software/confluence", "Team wiki."),
    ("Artifactory", "JFrog", ["artifact-repository"], Ring.ADOPT, 150, SUB,
     ["JFrog Artifactory"], "https://jfrog.com/artifactory", "Binary and container registry."),
    ("Nexus Repository", "Sonatype", ["artifact-repository"], Ring.HOLD, 120, SUB, [],
     "https://www.sonatype.com/products/sonatype-nexus-repository", "Artefact repository."),
    ("SonarQube", "SonarSource", ["code-quality", "security-scanning"], Ring.ADOPT, 150, SUB,
     ["Sonar"], "https://www.sonarsource.com/products/sonarqube", "Code quality gates."),
    ("Grafana", "Grafana Labs", ["dashboards"], Ring.ADOPT, 96, SUB, [],
     "https://grafana.com", "Dashboards for metrics, logs and traces."),
    ("Prometheus", "CNCF", ["observability"], Ring.ADOPT, None, OSS, [],
     "https://prometheus.io", "Metrics collection and alerting."),
    ("Datadog", "Datadog", ["observability", "application-performance-monitoring"], Ring.ASSESS,
     420, SUB, [], "https://www.datadoghq.com", "Hosted monitoring and APM."),
    ("PagerDuty", "PagerDuty", ["incident-management"], Ring.TRIAL, 250, SUB, [],
     "https://www.pagerduty.com", "On-call and incident response."),
    ("Opcenter MES", "Siemens", ["mes"], Ring.ADOPT, 1200, SUB, ["Camstar"],
     "https://plm.sw.siemens.com/en-US/opcenter/", "Manufacturing execution system."),
    ("PI System", "AVEVA", ["historian"], Ring.ADOPT, 900, SUB, ["OSIsoft PI", "AVEVA PI"],
     "https://www.aveva.com/en/products/aveva-pi-system/", "Process data historian."),
    ("Canary Historian", "Canary Labs", ["historian"], Ring.HOLD, 600, PERP, [],
     "https://www.canarylabs.com", "Time-series historian."),
    ("Ignition", "Inductive Automation", ["scada-hmi", "iiot-platform"], Ring.ADOPT, 500, PERP,
     [], "https://inductiveautomation.com/ignition/", "SCADA/HMI and IIoT platform."),
    ("FactoryTalk View", "Rockwell Automation", ["scada-hmi"], Ring.TRIAL, 700, PERP,
     ["FactoryTalk"], "https://www.rockwellautomation.com/factorytalk", "HMI for Rockwell lines."),
    ("IBM Maximo", "IBM", ["cmms-maintenance"], Ring.ADOPT, 780, SUB, ["Maximo"],
     "https://www.ibm.com/products/maximo", "Enterprise asset management and CMMS."),
    ("Maximo Application Suite", "IBM", ["cmms-maintenance", "predictive-maintenance"],
     Ring.ASSESS, 900, SUB, [], "https://www.ibm.com/products/maximo/",
     "Registered again by a plant team: the same product as IBM Maximo."),
    ("SAP PM", "SAP", ["cmms-maintenance"], Ring.HOLD, 600, SUB, ["SAP Plant Maintenance"],
     "https://www.sap.com/products/scm/plant-maintenance.html", "SAP plant maintenance."),
    ("Cognex VisionPro", "Cognex", ["vision-quality-inspection"], Ring.TRIAL, 2500, PERP, [],
     "https://www.cognex.com/products/machine-vision/vision-software/visionpro-software",
     "Machine-vision inspection software."),
    ("Siemens NX", "Siemens", ["cad-cam"], Ring.ADOPT, 6000, SUB, ["NX CAM", "Unigraphics"],
     "https://plm.sw.siemens.com/en-US/nx/", "CAD/CAM."),
    ("ANSYS Twin Builder", "Ansys", ["digital-twin-simulation"], Ring.ASSESS, 9000, SUB, [],
     "https://www.ansys.com/products/digital-twin/ansys-twin-builder", "Digital twins."),
    ("Senseye", "Siemens", ["predictive-maintenance"], Ring.TRIAL, 1100, SUB,
     ["Senseye Predictive Maintenance"], "https://www.senseye.io", "Predictive maintenance."),
    ("TIA Portal", "Siemens", ["plc-engineering"], Ring.ADOPT, 1500, PERP, ["TIA"],
     "https://www.siemens.com/tia-portal", "PLC engineering."),
    ("SAP S/4HANA", "SAP", ["erp"], Ring.ADOPT, 2400, SUB, ["S/4HANA", "S4"],
     "https://www.sap.com/products/erp/s4hana.html", "ERP."),
]  # fmt: skip

# factory slug → [(declared name, seats, annual cost or None, declared capability)]
ADOPTIONS = {
    "stuttgart-press": [
        ("Siemens Opcenter", 120, None, ""),
        ("OSIsoft PI", 40, None, ""),
        ("Canary Historian 22", 25, Decimal("38000"), ""),
        ("IBM Maximo 7.6", 60, None, ""),
        ("SAP PM", 45, Decimal("85000"), ""),
        ("TIA Portal V18", 30, None, ""),
        ("Ignition", 20, None, ""),
        ("SAP S/4HANA", 150, None, ""),
    ],
    "puebla-assembly": [
        ("Ignition 8.1", 30, None, "SCADA/HMI"),
        ("AVEVA PI", 15, None, ""),
        ("Maximo", 25, None, ""),
        ("S/4HANA", 80, None, ""),
        ("Opcenter", 50, None, ""),
    ],
    "pilsen-machining": [
        ("Siemens NX", 12, None, ""),
        ("Cognex VisionPro", 4, None, ""),
        ("FactoryTalk View SE", 15, None, ""),
        ("SAP Plant Maintenance", 20, Decimal("24000"), ""),
        ("PI System", 10, None, ""),
        ("TIA Portal", 12, None, ""),
    ],
    "aarhus-turbines": [
        ("Senseye", 8, None, ""),
        ("ANSYS Twin Builder", 5, None, ""),
        ("PI System", 20, None, ""),
        ("IBM Maximo", 30, None, ""),
        ("Ignition", 10, None, "SCADA/HMI"),
        ("TurbineWatch (in-house)", 6, Decimal("12000"), "Predictive maintenance"),
    ],
    "grid-analytics": [
        ("GitLab", 40, None, ""),
        ("Prometheus server", 40, Decimal("0"), ""),
        ("Grafana", 40, None, ""),
        ("Jira", 40, None, ""),
        ("Confluence", 40, None, ""),
    ],
    "customer-app": [
        ("GitLab", 60, None, ""),
        ("Jira Software", 60, None, ""),
        ("Confluence", 60, None, ""),
        ("Artifactory", 60, None, ""),
        ("SonarQube", 60, None, ""),
        ("Grafana", 60, None, ""),
        ("Prometheus", 60, Decimal("0"), ""),
    ],
    "dealer-portal": [
        ("GitLab CI (self-managed)", 25, None, "Source control"),
        ("jenkins-lts", 25, Decimal("18000"), "CI/CD"),
        ("Github Actions", 25, None, ""),
        ("Bamboo", 25, Decimal("9000"), ""),
        ("Redmine", 25, Decimal("7500"), ""),
        ("Nexus Repository OSS", 25, None, ""),
        ("Datadog", 10, None, "Observability"),
    ],
    "platform-coe": [
        ("GitLab", 30, None, ""),
        ("Jira", 30, None, ""),
        ("Confluence", 30, None, ""),
        ("Artifactory", 30, None, ""),
        ("SonarQube", 30, None, ""),
        ("Grafana", 30, None, ""),
        ("Prometheus", 30, Decimal("0"), ""),
        ("PagerDuty", 12, None, ""),
    ],
}

PROCESSES = [
    ("Incident review", "incident-management", ["1.0", "1.1"],
     "1. Declare the incident and name an incident lead.\n2. Stabilise, then write the "
     "timeline.\n3. Hold a blameless review within **5 working days**.\n4. Track actions in "
     "Jira until done.", ["platform-coe", "customer-app", "grid-analytics"]),
    ("Release train", "ci-cd", ["2.0"],
     "1. Cut the release branch every second Tuesday.\n2. Run the full pipeline and the "
     "SonarQube gate.\n3. Release with a change record; roll back on a failed health check.",
     ["platform-coe", "customer-app"]),
    ("PLC change management", "plc-engineering", ["1.0"],
     "1. Export the PLC project from TIA Portal into version control.\n2. Peer-review the "
     "diff.\n3. Download during a planned stop and sign the change log.",
     ["stuttgart-press", "pilsen-machining"]),
    ("OT patching", "scada-hmi", ["1.0"],
     "1. Check vendor advisories monthly.\n2. Patch the test cell first.\n3. Patch line by line "
     "in maintenance windows; keep a rollback image.", ["stuttgart-press", "aarhus-turbines"]),
    ("Supplier onboarding", "erp", ["1.0"],
     "1. Security questionnaire.\n2. Data-sharing agreement.\n3. Create the supplier in "
     "S/4HANA and grant portal access.", ["puebla-assembly"]),
]  # fmt: skip


@transaction.atomic
def load_demo(core: dict, stdout) -> None:
    """Load (or refresh) the demo registry, adoptions, processes and findings."""
    load_taxonomy(Capability)
    caps = {c.slug: c for c in Capability.objects.all()}
    lead = core["users"]["coe.lead"]
    tools: dict[str, Tool] = {}
    for name, vendor, cap_slugs, ring, cost, licence, aliases, homepage, text in TOOLS:
        tool = Tool.objects.filter(name=name).first()
        fields = {
            "homepage": homepage,
            "description": text,
            "licence_model": licence,
            "annual_cost_per_seat": Decimal(cost) if cost is not None else None,
            "owner": lead,
        }
        if tool is None:
            tool = services.tool_create(
                name=name,
                vendor=vendor,
                ring=ring,
                capabilities=[caps[s] for s in cap_slugs],
                aliases=aliases,
                actor=lead,
                introduced_on=dt.date(2021, 1, 1),
                **fields,
            )
        else:
            Tool.objects.filter(pk=tool.pk).update(vendor=vendor, **fields)
            log_bulk(Tool, ids=[tool.pk], action="update", before={tool.pk: tool})
        tools[name] = tool
    # A ring history worth showing: Jenkins was the standard once.
    jenkins = tools["Jenkins"]
    if not RingChange.objects.filter(tool=jenkins, reason__startswith="Consolidating").exists():
        RingChange.objects.create(
            tool=jenkins,
            from_ring=Ring.ADOPT,
            to_ring=Ring.HOLD,
            reason="Consolidating CI/CD on GitLab; no new Jenkins instances.",
            changed_by=lead,
            changed_at=timezone.make_aware(dt.datetime(2024, 3, 1, 9, 0)),
        )
    if not tools["GitHub Actions"].ring_overrides.exists():
        services.tool_set_ring(
            tool=tools["GitHub Actions"],
            ring=Ring.HOLD,
            factory_kind=M,
            reason="Plants build on GitLab runners inside the OT network.",
            actor=lead,
        )

    resolver = registry_resolver()
    factories = core["factories"]
    for slug, rows in ADOPTIONS.items():
        for declared, seats, cost, capability in rows:
            services.adoption_create(
                factory=factories[slug],
                declared_name=declared,
                seats=seats,
                annual_cost=cost,
                declared_capability=capability,
                source=AdoptionSource.DECLARED,
                resolver=resolver,
            )

    coe_factory = factories["platform-coe"]
    for name, cap_slug, versions, steps, adopters in PROCESSES:
        process, _ = Process.objects.update_or_create(
            slug=name.lower().replace(" ", "-"),
            defaults={
                "name": name,
                "capability": caps[cap_slug],
                "owner": lead,
                "owner_factory": coe_factory,
                "description": f"The CoE's reusable {name.lower()} playbook.",
            },
        )
        latest = None
        for i, version in enumerate(versions):
            latest, _ = ProcessVersion.objects.update_or_create(
                process=process,
                version=version,
                defaults={
                    "steps": steps if i == len(versions) - 1 else steps.split("\n4.")[0],
                    "links": ["https://wiki.northwind.example/playbooks/" + process.slug],
                    "released_on": dt.date(2024, 1 + 3 * i, 15),
                },
            )
        for slug in adopters:
            ProcessAdoption.objects.get_or_create(factory=factories[slug], process_version=latest)

    summary = duplicates_detect()
    # One waiver: Pilsen's Rockwell line ships with FactoryTalk until its retrofit.
    scada = DuplicateFinding.objects.filter(
        kind="fragmentation", capability=caps["scada-hmi"]
    ).first()
    if scada is not None and scada.status == FindingStatus.OPEN:
        services.finding_waive(
            finding=scada,
            reason="Pilsen's Rockwell line ships with FactoryTalk; replaced at the 2027 retrofit.",
            approver=lead,
            expires_on=timezone.localdate() + dt.timedelta(days=365),
        )
    stdout.write(
        f"registry: {len(tools)} tools, {sum(len(r) for r in ADOPTIONS.values())} adoptions, "
        f"{summary.findings} duplicate findings"
    )
