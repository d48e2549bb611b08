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
            f"  Demo logins (password {DEMO_PASSWORD}):",
            *(f"    {role:<11} {', '.join(names)}" for role, names in by_role.items()),
            "  Press Ctrl-C to stop the web server, worker and beat.",
            "",
        ]
        self.stdout.write("\n".join(lines))
