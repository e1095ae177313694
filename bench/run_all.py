"""Run every benchmark and write one Markdown table + JSON to bench/results/.

Each benchmark script prints human-readable figures and, as its last line,
`RESULT_JSON {...}` with rows of {"benchmark", "metric", "value", "unit", "ceiling", "ratio",
"target"}. This script collects those rows, adds the machine and the date, and writes
bench/results/latest.json and bench/results/latest.md (the table README shows).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["ingest", "stories", "summaries", "cost", "http", "digest", "load"]
# A benchmark is bench/<name>.py, unless it is a mode of another script.
COMMANDS = {"cost": ["summaries.py", "--cost"]}


def machine() -> dict[str, str | int]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def run(name: str) -> list[dict]:
    script, *args = COMMANDS.get(name, [f"{name}.py"])
    print(f"\n### bench/{' '.join([script, *args])}", flush=True)
    proc = subprocess.run(
        [sys.executable, str(HERE / script), *args], cwd=HERE.parent, capture_output=True, text=True
    )
    print(proc.stdout[-4000:], proc.stderr[-2000:] if proc.returncode else "", flush=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT_JSON "):
            return json.loads(line.removeprefix("RESULT_JSON "))
    return [{"benchmark": name, "metric": "failed to run", "value": None, "unit": f"exit {proc.returncode}"}]


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def main() -> None:
    names = sys.argv[1:] or BENCHMARKS
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    # Running a subset refreshes those rows and keeps the others from the last full run.
    previous = json.loads((out / "latest.json").read_text())["rows"] if (out / "latest.json").exists() else []
    fresh = {name: run(name) for name in names}
    rows = [
        row
        for name in BENCHMARKS
        for row in fresh.get(name) or [r for r in previous if r["benchmark"] == name]
    ]
    info = machine()
    today = dt.date.today().isoformat()
    (out / "latest.json").write_text(json.dumps({"date": today, "machine": info, "rows": rows}, indent=2))
    lines = [
        f"Measured {today} on {info['cores']} cores, {info['memory_gib']} GiB RAM, Python {info['python']}.",
        "",
        "| benchmark | metric | value | unit | ceiling | ratio | target |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {r['metric']} | {fmt(r.get('value'))} | {r.get('unit', '')} | "
            f"{fmt(r.get('ceiling'))} | {fmt(r.get('ratio'))} | {r.get('target', '')} |"
        )
    (out / "latest.md").write_text("\n".join(lines) + "\n")
    update_readme("\n".join(lines))
    print("\n".join(lines))


def update_readme(table: str) -> None:
    """Put the table between the README's benchmark markers, so README shows the latest run."""
    readme = HERE.parent / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    main()
