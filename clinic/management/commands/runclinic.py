"""Runs the web server, a Celery worker and Celery beat together for `make run`.

Ctrl-C (or SIGTERM) stops all three; if one of them dies, the others are stopped too,
so a half-running clinic never goes unnoticed.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from clinic.mail import outbox_in_use

SHORT_BANNER_AFTER = 12  # seconds: Celery's worker and beat have logged their start-up by then


def web_is_up(host, port) -> bool:
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run web server, Celery worker and Celery beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, *args, host, port, **options):
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "clinic"]
        commands = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [*celery, "beat", "--loglevel", "INFO"],
        }
        # The worker builds the links in patient emails from these (settings.SITE_URL).
        environment = {**os.environ, "HOST": host, "PORT": str(port)}
        processes = {
            name: subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)
            for name, command in commands.items()
        }
        stopping = False
        banner_due = True
        reminder_at = None

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                # Print the banner once the web server answers, after the children's start-up logs.
                if banner_due and web_is_up(host, port):
                    self.print_banner(host, port)
                    banner_due = False
                    reminder_at = time.monotonic() + SHORT_BANNER_AFTER
                # The worker's and beat's start-up logs push the banner off screen: repeat
                # its gist once they are done.
                if reminder_at is not None and time.monotonic() >= reminder_at:
                    self.stdout.write(self.short_banner(host, port))
                    reminder_at = None
                exited = [name for name, proc in processes.items() if proc.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} stopped; stopping the rest.")
                    break
                time.sleep(0.5)
        finally:
            self.stop_all(processes)
        self.stdout.write("Clinic stopped.")

    def stop_all(self, processes):
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def print_banner(self, host, port):
        from clinic.management.commands.seed_demo import DEMO_LOGINS, DEMO_PASSWORD

        by_role: dict[str, list[str]] = {}
        for role, username in DEMO_LOGINS:
            by_role.setdefault(role, []).append(username)

        lines = [
            "",
            f"  {settings.CLINIC_NAME} is running at http://{host}:{port}/",
            f"  Health: http://{host}:{port}/healthz   API docs: http://{host}:{port}/api/docs/",
            *self.email_lines(host, port),
            f"  Demo logins (password {DEMO_PASSWORD}):",
            *(f"    {role:<11} {', '.join(names)}" for role, names in by_role.items()),
            "  Press Ctrl-C to stop the web server, worker and beat.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def email_lines(self, host, port) -> list[str]:
        if not outbox_in_use():
            return [f"  Emails go through {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]}."]
        return [
            f"  Emails are not sent: they are kept in {settings.EMAIL_OUTBOX_DIR}/",
            f"  and listed at http://{host}:{port}/outbox/ (log in first).",
        ]

    def short_banner(self, host, port) -> str:
        outbox = f"   emails: http://{host}:{port}/outbox/" if outbox_in_use() else ""
        return (
            f"\n  Running at http://{host}:{port}/{outbox}\n"
            "  Demo logins are listed above. Ctrl-C stops.\n"
        )
