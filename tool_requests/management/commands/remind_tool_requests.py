"""``manage.py remind_tool_requests``: mail whoever must act on an overdue tool request."""

from coe.changelog import ChangeLogCommand
from tool_requests.notifications import send_overdue_reminders


class Command(ChangeLogCommand):
    help = "Remind approvers of overdue tool requests (at most one mail a day per request)."

    def handle(self, *args, **options):
        sent = send_overdue_reminders()
        self.stdout.write(f"Overdue reminders sent: {sent}")
