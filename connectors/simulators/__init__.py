"""In-process simulators of the shop-floor sources, for the demo and the tests.

Each runs its protocol for real (an asyncua server, a Sparkplug B publisher over a real
MQTT broker, a pymodbus server) in a background thread on 127.0.0.1.
"""
