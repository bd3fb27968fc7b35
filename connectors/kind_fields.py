"""The connector form's fields per kind: one labelled field per common setting, and the
credentials each kind's adapter reads.

The adapter (``connectors.sources``) stays the judge of the settings: these fields only
collect them; what they do not cover (mappings, register lists, metric maps) goes in the
form's "Advanced settings" JSON object. Credentials are password inputs that never render
a value back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    type: str = "text"  # text, int, number, bool, choice, list
    required: bool = False
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Secret:
    key: str
    label: str
    multiline: bool = False
    help: str = ""


_BASE_URL = Setting("base_url", "Base URL", required=True, help="https://host[:port][/path]")
_VERIFY_TLS = Setting("verify_tls", "Verify TLS certificates", "bool")
_TOKEN = Secret("token", "API token")
_INITIAL_DAYS = Setting(
    "initial_days", "Days read on the first sync", "int", help="1–3650; 90 when empty."
)
_ENVIRONMENT = Setting("environment", "Environment", help='"production" when empty.')

SETTINGS: dict[str, tuple[Setting, ...]] = {
    "opcua": (
        Setting("endpoint", "Endpoint", required=True, help="opc.tcp://host:4840[/path]"),
        Setting("root", "Browse root", help='A node id; "i=85" (Objects) when empty.'),
        Setting("max_nodes", "Most nodes browsed", "int", help="20000 when empty."),
        Setting(
            "security_policy",
            "Security policy",
            "choice",
            choices=(("None", "None"), ("Basic256Sha256", "Basic256Sha256")),
        ),
        Setting(
            "security_mode",
            "Security mode",
            "choice",
            help="Used with Basic256Sha256.",
            choices=(("SignAndEncrypt", "Sign and encrypt"), ("Sign", "Sign")),
        ),
    ),
    "mqtt": (
        Setting("host", "Broker host", required=True),
        Setting("port", "Broker port", "int", help="1883 when empty."),
        Setting(
            "mode",
            "Payload",
            "choice",
            choices=(("sparkplug", "Sparkplug B"), ("json", "JSON topics")),
        ),
        Setting("group_id", "Sparkplug group id", help="Every group when empty."),
        Setting("host_id", "Sparkplug host id"),
        Setting("topics", "Topics", "list", help="JSON mode: topic filters, one per line."),
        Setting("listen_seconds", "Seconds listened per sync", "number", help="0–120; 3."),
    ),
    "modbus": (
        Setting("host", "Host", required=True),
        Setting("port", "Port", "int", help="502 when empty."),
        Setting("unit_id", "Unit id", "int", help="0–247; 1 when empty."),
    ),
    "upload": (),
    "rest": (
        _BASE_URL,
        Setting("path", "Path", help="Relative to the base URL, e.g. api/devices"),
        Setting(
            "record",
            "Records",
            "choice",
            choices=(("device", "Devices"), ("metric", "Metrics"), ("finance", "Finance")),
        ),
        Setting("results_path", "Results path", help="Dotted path to the list in the answer."),
        Setting("auth_header", "Token header", help='"Authorization" when empty.'),
        _VERIFY_TLS,
    ),
    "netbox": (
        _BASE_URL,
        Setting("page_size", "Page size", "int", help="1–1000; 250 when empty."),
        Setting("mac_path", "MAC address path"),
        _VERIFY_TLS,
    ),
    "snipeit": (
        _BASE_URL,
        Setting("page_size", "Page size", "int", help="1–500; 500 when empty."),
        Setting("mac_field", "MAC address field", help='"MAC Address" when empty.'),
        _VERIFY_TLS,
    ),
    "gitlab": (
        _BASE_URL,
        Setting("project", "Project", required=True, help="Numeric id or group/name path."),
        _ENVIRONMENT,
        Setting("incident_label", "Incident label"),
        _INITIAL_DAYS,
        _VERIFY_TLS,
    ),
    "github": (
        _BASE_URL,
        Setting("repository", "Repository", required=True, help="owner/name"),
        _ENVIRONMENT,
        _INITIAL_DAYS,
        _VERIFY_TLS,
    ),
    "jira": (
        _BASE_URL,
        Setting(
            "flavour",
            "Jira flavour",
            "choice",
            choices=(("cloud", "Cloud"), ("datacenter", "Data Center")),
        ),
        Setting("jql", "JQL filter"),
        Setting("team_field", "Team field", help='"project" when empty.'),
        _INITIAL_DAYS,
        _VERIFY_TLS,
    ),
}

SECRETS: dict[str, tuple[Secret, ...]] = {
    "opcua": (
        Secret("username", "Username"),
        Secret("password", "Password"),
        Secret("certificate", "Client certificate (PEM)", multiline=True),
        Secret("private_key", "Client private key (PEM)", multiline=True),
        Secret("server_certificate", "Server certificate (PEM)", multiline=True),
    ),
    "mqtt": (Secret("username", "Username"), Secret("password", "Password")),
    "modbus": (),
    "upload": (),
    "rest": (_TOKEN,),
    "netbox": (_TOKEN,),
    "snipeit": (_TOKEN,),
    "gitlab": (_TOKEN,),
    "github": (_TOKEN,),
    "jira": (
        Secret("email", "Account e-mail", help="Cloud: with an API token (basic auth)."),
        _TOKEN,
    ),
}


def setting_field_name(key: str) -> str:
    return f"setting_{key}"


def secret_field_name(key: str) -> str:
    return f"secret_{key}"
