"""The Sparkplug B host application (``manage.py mqtt_host``).

One long-lived process keeps an MQTT session per enabled MQTT connector: it announces
itself with a retained Sparkplug 3.0 ``STATE`` birth and will, asks edge nodes for
rebirths, records births, deaths and data through the shared ingest as they arrive, and
keeps what it heard in :class:`~connectors.mqtt_host.state.MqttHostState` so a sync reads
it instead of listening.
"""
