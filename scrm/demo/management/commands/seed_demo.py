from django.core.management.base import BaseCommand

from scrm.demo.seed import seed_demo


class Command(BaseCommand):
    help = "Load the demo data (idempotent); in sandbox mode through the WeCom sandbox."

    def handle(self, *args, **options):
        counts = seed_demo(say=lambda msg: self.stdout.write(f"seed_demo: {msg}"))
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
