"""The OceanBase builds the tests install, each named by its version and the date stamped in its build number
(`<version>_<yyyymmdd>`), so a name says which build it is, not which folder's "target" it happens to be.

A build is unpacked as `version, release = OB_4_3_0_1_20231101`; `release` is `<build number>.<distribution>`,
as package rows and the API spell it.
"""

from typing import NamedTuple


class Build(NamedTuple):
    version: str  # "4.3.0.1"
    release: str  # "101000062023110109.el7": build number, then distribution

    @property
    def build_number(self):
        """The release without its distribution: "101000062023110109"."""
        return self.release.split(".")[0]

    @property
    def build_version(self):
        """As an observer reports its build: "4.3.0.1_101000062023110109"."""
        return f"{self.version}_{self.build_number}"

    @property
    def label(self):
        """As routes and the pages show a build: "4.3.0.1-101000062023110109"."""
        return f"{self.version}-{self.build_number}"


# Every simulated cluster from `make_cluster()` starts on this build unless told otherwise.
OB_4_2_1_0_20230928 = Build("4.2.1.0", "100000102023092807.el7")
# 4.2 RC2, deprecated in the shipped dep file: a start for two-hop routes, never a target.
OB_4_2_0_0_20230801 = Build("4.2.0.0", "100000152023080109.el7")
# The one-hop target the pages and browser tests offer (oceanbase-ce and oceanbase-ce-libs).
OB_4_2_1_1_20231101 = Build("4.2.1.1", "101000012023110109.el7")
# The barrier hop (4.2.1.2) engine tests stock for a two-hop upgrade.
OB_4_2_1_2_20231212 = Build("4.2.1.2", "101000012023121215.el7")
# Another 4.2.1.2 build, the barrier hop of the planning benchmark.
OB_4_2_1_2_20231205 = Build("4.2.1.2", "102000042023120514.el7")
# The build the RPM writer's demo packages carry: the API, engine and package tests upgrade to it.
OB_4_3_0_1_20231101 = Build("4.3.0.1", "101000062023110109.el7")
# The released 4.3.0.1 CE build: the planning tests' target.
OB_4_3_0_1_20240322 = Build("4.3.0.1", "100000242024032211.el7")

# obshell rpms (`obshell-<version>-<release>.<arch>.rpm`) for obshell's own upgrade. A cluster from make_cluster()
# runs obshell 4.2.1.0-100000102023092807 (its agents report the OB build they came with).
OBSHELL_4_2_2_0_20240108 = Build("4.2.2.0", "100000032024010818.el7")
