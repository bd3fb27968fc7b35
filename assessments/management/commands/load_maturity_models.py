"""``manage.py load_maturity_models [DIR]``: store new versions of changed definition files."""

from pathlib import Path

from django.core.management.base import CommandError

from assessments.definitions import MODELS_DIR, DefinitionError
from assessments.services import maturity_models_load
from coe.changelog import ChangeLogCommand


class Command(ChangeLogCommand):
    help = (
        "Load the maturity model definition files; a changed file becomes a new version "
        "(assessments keep the version they were made with)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(MODELS_DIR))

    def handle(self, *args, directory: str, **options):
        try:
            loaded = maturity_models_load(directory=Path(directory))
        except (DefinitionError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for model, created in loaded:
            state = "new version" if created else "unchanged"
            self.stdout.write(f"{model.key} v{model.version} ({model.name}): {state}")
