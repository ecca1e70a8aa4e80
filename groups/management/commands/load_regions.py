"""Load the region hierarchy (provinces and prefecture-level cities of mainland
China, GB/T 2260 codes, centre coordinates) from groups/data/regions.csv."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from groups.services import REGIONS_CSV, region_rows_from_csv, regions_load


class Command(BaseCommand):
    help = "Load regions from a CSV (default: the shipped list). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=REGIONS_CSV, help="CSV to load")
        parser.add_argument(
            "--update",
            action="store_true",
            help="also overwrite existing regions from the file (admin edits are lost)",
        )

    def handle(self, *args, file: Path, update: bool, **options):
        counts = regions_load(rows=region_rows_from_csv(file), update=update)
        self.stdout.write(
            f"regions: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )
