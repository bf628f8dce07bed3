"""Benchmark (make bench): add_package on a ~200 MB xz RPM against `xz -dc payload` + `sha256sum file`.

The package is built once and cached under var/bench/. Its observer binary is ~760 MB of synthetic
machine-code-like data (a pool of repeated "functions" mixed with fresh low-entropy bytes) that xz
compresses about 4:1 and decompresses at a realistic pace, and the dep yml sits after it in the payload,
so add_package has to decompress everything, as the baseline does. The ingest runs in a child process
(fresh SQLite database and MEDIA_ROOT) so its peak memory growth is its own (peak RSS during the ingest minus RSS before it).
Figures are printed; nothing here asserts on timing.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upgrades.demo.rpms import oceanbase_package_files
from upgrades.packages.rpm import read_header
from upgrades.packages.rpmwriter import write_rpm

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
GENERATOR = "packages-v1"  # bump to rebuild the cached package when the generator changes
VERSION, RELEASE = "4.3.0.1", "101000062023110109.el7"
RPM = BENCH_DIR / f"oceanbase-ce-{VERSION}-{RELEASE}.x86_64.rpm"
PAYLOAD = BENCH_DIR / f"oceanbase-ce-{VERSION}-{RELEASE}.payload.xz"
STAMP = BENCH_DIR / "packages.stamp"
OBSERVER_SIZE = 760 * 1024 * 1024
OBSHELL_SIZE = 40 * 1024 * 1024
DEP_YAML = (ROOT / "tests" / "fixtures" / "rpms" / "oceanbase_upgrade_dep.yml").read_text()

# A child process on a migrated database: set up Django, then time package_upload alone.
INGEST = """
import json, resource, sys, time
import django
django.setup()
from upgrades.services.packages import package_upload


def rss_kb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


try:  # Linux: reset the peak-RSS mark so VmHWM measures the ingest alone
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before, peak = rss_kb("VmRSS"), lambda: rss_kb("VmHWM")
except OSError:
    before, peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lambda: resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
package, created = package_upload(path=sys.argv[1])
first = time.perf_counter() - start
after = peak()
start = time.perf_counter()
_, again = package_upload(path=sys.argv[1])
second = time.perf_counter() - start
print(json.dumps({"seconds": first, "again_seconds": second, "created": created, "again_created": again,
                  "rss_before_kb": before, "peak_rss_kb": after, "dep_yaml": len(package.upgrade_dep_yaml)}))
"""


def _machine_code_like(path, size, seed):
    """Write `size` bytes of synthetic binary: repeated pool blocks (matches) and fresh low-entropy runs."""
    rng = random.Random(seed)
    alphabet = bytes((b % 40) * 3 for b in range(256))
    pool = [rng.randbytes(rng.randint(64, 1024)).translate(alphabet) for _ in range(256)]
    written = 0
    with open(path, "wb") as out:
        out.write(b"\x7fELF\x02\x01\x01\x00" + bytes(8))
        written += 16
        while written < size:
            parts, block = [], 0
            while block < 1024 * 1024:
                if rng.random() < 0.25:
                    part = rng.randbytes(rng.randint(64, 512)).translate(alphabet)
                else:
                    part = pool[rng.randrange(len(pool))]
                parts.append(part)
                block += len(part)
            data = b"".join(parts)[: size - written]
            out.write(data)
            written += len(data)


def _build_package():
    if RPM.exists() and PAYLOAD.exists() and STAMP.exists() and STAMP.read_text() == GENERATOR:
        return
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    observer, obshell = BENCH_DIR / "observer.tmp", BENCH_DIR / "obshell.tmp"
    try:
        _machine_code_like(observer, OBSERVER_SIZE, seed=1)
        _machine_code_like(obshell, OBSHELL_SIZE, seed=2)
        files = oceanbase_package_files("oceanbase-ce", version=VERSION, release=RELEASE, dep_yaml=DEP_YAML)
        files["/home/admin/oceanbase/bin/observer"] = observer
        files["/home/admin/oceanbase/bin/obshell"] = obshell
        tmp_rpm = RPM.with_suffix(".tmp")
        write_rpm(
            tmp_rpm, name="oceanbase-ce", version=VERSION, release=RELEASE, files=files, compression="xz", level=0
        )
        with open(tmp_rpm, "rb") as f, open(PAYLOAD, "wb") as out:
            f.seek(read_header(f).payload_offset)
            shutil.copyfileobj(f, out, 1024 * 1024)
        tmp_rpm.replace(RPM)
        STAMP.write_text(GENERATOR)
    finally:
        observer.unlink(missing_ok=True)
        obshell.unlink(missing_ok=True)
    print(
        f"\n[bench packages] built {RPM.name} ({RPM.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.0f} s"
    )


def _timed(*command):
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return time.perf_counter() - started


@pytest.mark.slow
def test_bench_add_package_against_xz_and_sha256sum(tmp_path):
    for tool in ("xz", "sha256sum"):
        if not shutil.which(tool):
            pytest.skip(f"the baseline needs {tool}")
    _build_package()
    _timed("cat", str(RPM))  # warm the page cache for both sides
    decompress = _timed("xz", "-dc", str(PAYLOAD))
    digest = _timed("sha256sum", str(RPM))
    baseline = decompress + digest

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMBEDDED_WORKER": "0",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=600)
    child = subprocess.run(
        [sys.executable, "-c", INGEST, str(RPM)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["created"] and not result["again_created"] and result["dep_yaml"] == len(DEP_YAML)
    growth_mb = (result["peak_rss_kb"] - result["rss_before_kb"]) / 1024
    ratio = result["seconds"] / baseline
    size_mb = RPM.stat().st_size / 1e6
    print(
        f"\n[bench packages] add_package {size_mb:.0f} MB xz rpm: {result['seconds']:.2f} s; baseline "
        f"xz -dc {decompress:.2f} s + sha256sum {digest:.2f} s = {baseline:.2f} s; ratio {ratio:.2f}x (target <= 1.5x)"
        f"\n[bench packages] peak memory growth {growth_mb:.1f} MB (target <= 64 MB; max RSS "
        f"{result['rss_before_kb'] / 1024:.0f} MB before the ingest, peak {result['peak_rss_kb'] / 1024:.0f} MB during it); "
        f"re-adding the same file {result['again_seconds']:.2f} s ({result['again_seconds'] / digest:.2f}x sha256sum)"
    )
