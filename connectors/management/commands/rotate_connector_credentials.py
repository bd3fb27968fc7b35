"""``manage.py rotate_connector_credentials``: re-encrypt every stored credential and
webhook signing secret with the first key of ``CONNECTOR_CREDENTIALS_KEYS`` (put the new
key first, keep the old ones after it until this has run)."""

from django.db import transaction

from coe.changelog import ChangeLogCommand
from connectors.crypto import reset_keys, rotate_token
from connectors.models import Connector
from notify.models import Webhook


class Command(ChangeLogCommand):
    help = (
        "Re-encrypts connector credentials and webhook secrets under the first "
        "CONNECTOR_CREDENTIALS_KEYS key."
    )

    def handle(self, *args, **options):
        reset_keys()
        count = 0
        with transaction.atomic():
            for connector in Connector.objects.exclude(
                credentials_encrypted=""
            ).select_for_update():
                connector.credentials_encrypted = rotate_token(connector.credentials_encrypted)
                connector.save(update_fields=["credentials_encrypted"])
                count += 1
            webhooks = 0
            for webhook in Webhook.objects.exclude(secret_encrypted="").select_for_update():
                webhook.secret_encrypted = rotate_token(webhook.secret_encrypted)
                webhook.save(update_fields=["secret_encrypted"])
                webhooks += 1
        self.stdout.write(
            f"re-encrypted the credentials of {count} connector(s) and the secrets of "
            f"{webhooks} webhook(s)"
        )
