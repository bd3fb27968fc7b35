"""Every viewset under /api/ has a generic persona test class (tests/api_mixins.py)."""

import importlib
import pkgutil

import tests
from coe.urls import api_router
from tests.api_mixins import APIViewTestCase


def _all_test_classes() -> list[type]:
    for module in pkgutil.walk_packages(tests.__path__, prefix="tests."):
        if module.name.rsplit(".", 1)[-1].startswith("test_"):
            importlib.import_module(module.name)
    found, stack = [], list(APIViewTestCase.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def test_every_api_viewset_has_a_generic_persona_test():
    tested = {cls.viewset for cls in _all_test_classes() if hasattr(cls, "viewset")}
    registered = {viewset for _prefix, viewset, _basename in api_router.registry}
    missing = sorted(v.__name__ for v in registered - tested)
    assert not missing, f"viewsets without an APIViewTestCase subclass: {missing}"


def test_every_generic_test_names_a_registered_basename():
    basenames = {basename for _prefix, _viewset, basename in api_router.registry}
    for cls in _all_test_classes():
        if hasattr(cls, "basename"):
            assert cls.basename in basenames, cls
