from django.core.management.base import BaseCommand

from scrm.demo import seed_demo


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def handle(self, *args, **options):
        counts = seed_demo()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
