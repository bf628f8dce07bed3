from django.core.management.base import BaseCommand

from upgrades.demo.fleet import plan_command_line, seed_demo


class Command(BaseCommand):
    help = "Seed the demo fleet, its upgrade packages and one account per role (idempotent)."

    def handle(self, *args, **opts):
        report = seed_demo()
        out = self.stdout
        out.write("Demo clusters:")
        for demo, cluster in report.clusters:
            state = "created" if cluster.name in report.created_clusters else "exists"
            out.write(
                f"  {cluster.name} ({state}): {demo.edition}, {demo.zones} zone(s) x {demo.servers_per_zone} "
                f"server(s) on {demo.version}-{demo.build}; {demo.story}"
            )
            out.write(f"    {plan_command_line(demo)}")
        out.write(f"Packages: {len(report.packages)} in the store for the demo routes ({report.created_packages} new)")
        if report.passwords:
            out.write("Accounts created (passwords are shown only now):")
            for role, password in report.passwords.items():
                out.write(f"  {role:<9} {password}")
        else:
            out.write("Accounts: viewer, operator and admin already exist")
