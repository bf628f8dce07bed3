"""Which rpm names the store accepts, and the files each must carry (spec 3.1, "Package validation on upload")."""

from upgrades.models.cluster import Edition

OB_HOME = "/home/admin/oceanbase"

OBSHELL = "obshell"
OCEANBASE_CE = "oceanbase-ce"
OCEANBASE_CE_LIBS = "oceanbase-ce-libs"
OCEANBASE = "oceanbase"
OCEANBASE_STANDALONE = "oceanbase-standalone"
DIAGNOSTIC_TOOL = "oceanbase-diagnostic-tool"

# obshell's SUPPORT_PKG_NAMES_MAP: what a cluster of each edition accepts (and lists in the refusal).
EDITION_PACKAGE_NAMES = {
    Edition.COMMUNITY: (OBSHELL, OCEANBASE_CE, OCEANBASE_CE_LIBS),
    Edition.BUSINESS: (OBSHELL, OCEANBASE),
    Edition.STANDALONE: (OBSHELL, OCEANBASE_STANDALONE),
}
# The fleet-wide store (add_package) takes every name some edition allows. The diagnostic tool is always
# accepted and never checked, as obshell does.
ALL_PACKAGE_NAMES = (OBSHELL, OCEANBASE_CE, OCEANBASE_CE_LIBS, OCEANBASE, OCEANBASE_STANDALONE, DIAGNOSTIC_TOOL)
OB_SERVER_PACKAGES = (OCEANBASE_CE, OCEANBASE, OCEANBASE_STANDALONE)

OBSERVER = f"{OB_HOME}/bin/observer"
OBSHELL_BINARY = f"{OB_HOME}/bin/obshell"
LIB_DIR = f"{OB_HOME}/lib"
DEP_YAML = f"{OB_HOME}/etc/oceanbase_upgrade_dep.yml"
UPGRADE_SCRIPTS = ("upgrade_checker.py", "upgrade_pre.py", "upgrade_health_checker.py", "upgrade_post.py")
UPGRADE_FILES = (*(f"{OB_HOME}/etc/{script}" for script in UPGRADE_SCRIPTS), DEP_YAML)


def allowed_package_names(edition):
    """The names a cluster of `edition` accepts on upload (the diagnostic tool is accepted on top)."""
    return EDITION_PACKAGE_NAMES[edition]
