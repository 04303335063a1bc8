"""Shared helpers for the end-to-end benchmarks: process figures from /proc."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_kb(pid, field="VmRSS"):
    """VmRSS (now) or VmHWM (peak) of |pid| in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_ms(pid):
    """User + system CPU time of |pid| so far, in milliseconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


# --- Stores: the same benchmark on SQLite and on PostgreSQL -----------------------------------

_private_pg = None


def use_store(store):
    """Makes the Groves made next use |store| ("sqlite" or "postgres"): a fresh PostgreSQL
    database each, on GROVE_TEST_PG_URL's server or else on a private one (scripts/postgres.sh,
    stopped at exit)."""
    global _private_pg
    os.environ["GROVE_TEST_STORE"] = store
    if store == "postgres" and not os.environ.get("GROVE_TEST_PG_URL"):
        import atexit
        from grove_harness import PrivatePostgres
        _private_pg = PrivatePostgres()
        atexit.register(_private_pg.stop)
        os.environ["GROVE_TEST_PG_URL"] = _private_pg.url


def stores(arg):
    return ["sqlite", "postgres"] if arg == "both" else [arg]


def pg_backend_cpu_ms(database):
    """CPU time so far of the PostgreSQL backends serving |database| (same machine), in ms."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            if cmd.startswith("postgres: ") and f" {database} " in cmd:
                total += cpu_ms(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def print_side_by_side(rows, results):
    """|rows|: (label, key, format); |results|: {store: {key: value}}."""
    names = list(results)
    print(f"{'':28}" + "".join(f"{n:>18}" for n in names))
    for label, key, fmt in rows:
        cells = []
        for n in names:
            v = results[n].get(key)
            cells.append(f"{'-' if v is None else fmt.format(v):>18}")
        print(f"{label:28}" + "".join(cells))


def bare_spawn_rate(n=1000, program="/bin/true"):
    """The floor a worker's per-step cost is measured against: |n| serial posix_spawn + wait of
    |program| from this process, in spawns/s (measured in the same run as the figure beside it,
    so the ratio is what counts on a loaded machine)."""
    import time
    t0 = time.monotonic()
    for _ in range(n):
        pid = os.posix_spawn(program, [program], os.environ)
        os.waitpid(pid, 0)
    return n / (time.monotonic() - t0)
