"""Package-store helpers: the build the fixture RPMs carry, where rpmbuild's fixtures come from, and what the
store left on disk."""

from pathlib import Path

from tests.support.builds import OB_4_3_0_1_20231101

# tests/fixtures/rpms/build.sh builds this version and release (its own dep file is a small sample, not the
# shipped one).
VERSION, RELEASE = OB_4_3_0_1_20231101
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "rpms" / "build.sh"
DEP_YAML_FILE = BUILD_SCRIPT.parent / "oceanbase_upgrade_dep.yml"


def stored_files(settings):
    """Every file under MEDIA_ROOT (the temp dir included)."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) if root.exists() else []
