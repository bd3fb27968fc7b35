"""Webhook signing secrets move from plain text to Fernet tokens (the keys of
CONNECTOR_CREDENTIALS_KEYS, like connector credentials)."""

from django.db import migrations, models


def encrypt_secrets(apps, schema_editor):
    from connectors.crypto import encrypt_text

    Webhook = apps.get_model("notify", "Webhook")
    for webhook in Webhook.objects.exclude(secret="").only("pk", "secret"):
        Webhook.objects.filter(pk=webhook.pk).update(secret_encrypted=encrypt_text(webhook.secret))


def decrypt_secrets(apps, schema_editor):
    from connectors.crypto import decrypt_text

    Webhook = apps.get_model("notify", "Webhook")
    for webhook in Webhook.objects.exclude(secret_encrypted="").only("pk", "secret_encrypted"):
        Webhook.objects.filter(pk=webhook.pk).update(
            secret=decrypt_text(webhook.secret_encrypted)
        )


class Migration(migrations.Migration):
    dependencies = [("notify", "0001_webhooks_and_notifications")]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="secret_encrypted",
            field=models.TextField(
                blank=True,
                help_text=(
                    "Key of the X-CoE-Signature HMAC, encrypted with CONNECTOR_CREDENTIALS_KEYS."
                ),
            ),
        ),
        migrations.AlterField(
            model_name="webhook",
            name="secret",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RemoveField(model_name="webhook", name="secret"),
    ]
