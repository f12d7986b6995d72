"""The results of `bench/gateway.py` as a console table and as Markdown (docs/performance.md)."""

from __future__ import annotations

from typing import Any


def _envoy_version(result: dict[str, Any]) -> str:
    # `envoy --version` ends in "<commit>/<version>/Clean/RELEASE/BoringSSL"
    parts = str(result["machine"]["tools"]["envoy"]).split("/")
    return f"Envoy {parts[1]}" if len(parts) > 1 else "Envoy"


def _heading(result: dict[str, Any]) -> str:
    machine, params = result["machine"], result["parameters"]
    return (
        f"Gateway on loopback - {machine['cpu_model']}, {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}, {_envoy_version(result)}, {machine['tools']['nginx']}, "
        f"{machine['date']}; wrk {params['wrk']}, median of {params['rounds']} rounds"
    )


def _added(row: dict[str, Any], sign: str = "") -> str:
    if "added_p50_ms" not in row:
        return "-"
    return f"{row['added_p50_ms']:{sign}.2f} / {row['added_p99_ms']:{sign}.2f}"


def _components(row: dict[str, Any]) -> str:
    """CPU µs per request by component, the most expensive first."""
    ranked = sorted(row["cpu_us_per_req"].items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {value:,.0f}" for name, value in ranked)


def table(result: dict[str, Any]) -> str:
    lines = [
        _heading(result),
        f"note: {result['cpu_note']}",
        f"{'row':<7} {'config':<44} {'rps':>8} {'min-max':>15} {'xEnvoy':>6} "
        f"{'loaded p50/p99':>15} {'c=1 rps':>8} {'c=1 p50/p99':>12} {'added c=1':>12}",
    ]
    for r in result["rows"]:
        c1 = r["unloaded"]
        lines.append(
            f"{r['key']:<7} {r['title']:<44} {r['rps_median']:>8,.0f} "
            f"{r['rps_min']:>7,.0f}-{r['rps_max']:<7,.0f} {r['ratio_vs_envoy']:>6.3f} "
            f"{r['loaded_p50_ms']:>7.2f}/{r['loaded_p99_ms']:<7.2f} {c1['rps']:>8,.0f} "
            f"{c1['p50_ms']:>5.2f}/{c1['p99_ms']:<6.2f} {_added(r):>12}"
        )
    lines.append(f"paced (wrk {result['parameters']['wrk_paced']}; closed loop, not wrk2):")
    for r in result["rows"]:
        if "paced" in r:
            p = r["paced"]
            added = (
                f"; added {p['added_p50_ms']:.2f} / {p['added_p99_ms']:.2f} ms"
                if "added_p50_ms" in p
                else ""
            )
            lines.append(
                f"  {r['key']:<7} {p['rps']:>6,.0f} rps  p50 {p['p50_ms']:.2f} ms  p99 {p['p99_ms']:.2f} ms{added}"
            )
    lines.append("cpu (median per row): CPU us per request by component; busiest component")
    for r in result["rows"]:
        parts = _components(r)
        b = r["bottleneck"]
        lines.append(
            f"  {r['key']:<7} {parts}; total {r['total_cpu_us_per_req']:,.0f}; "
            f"{b['component']} {b['cores']:.2f} cores; machine {r['machine_busy']:.0%} busy "
            f"({r['other_cores']:.2f} cores not ours), steal {r['steal']:.1%}"
        )
    lines.append("revocation to deny (revoke call -> first 401 through Envoy, probed every 2 ms):")
    for v in result["revocation"]:
        lines.append(
            f"  {v['title']:<46} n={v['n']:<3} p50 {v['p50_ms']:>6.1f} ms  p99 {v['p99_ms']:>6.1f} ms"
            f"  (bound: {v['bound']})"
        )
    lines.append("targets:")
    for t in result["targets"]:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['name']}: {t['measured']} (target {t['target']}) {verdict}")
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The results as the Markdown tables in docs/performance.md."""
    out = [
        _heading(result),
        "",
        "| row | config | rps (median) | min-max | x Envoy alone | loaded p50 / p99 ms "
        "| c=1 rps | c=1 p50 / p99 ms | added c=1 p50 / p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        c1 = r["unloaded"]
        out.append(
            f"| {r['key']} | {r['title']} | {r['rps_median']:,.0f} | "
            f"{r['rps_min']:,.0f}-{r['rps_max']:,.0f} | {r['ratio_vs_envoy']:.3f} | "
            f"{r['loaded_p50_ms']:.2f} / {r['loaded_p99_ms']:.2f} | {c1['rps']:,.0f} | "
            f"{c1['p50_ms']:.2f} / {c1['p99_ms']:.2f} | {_added(r, '+')} |"
        )
    out += [
        "",
        "| paced row | rps | p50 ms | p99 ms | added p50 / p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if "paced" in r:
            p = r["paced"]
            added = (
                f"{p['added_p50_ms']:+.2f} / {p['added_p99_ms']:+.2f}"
                if "added_p50_ms" in p
                else "-"
            )
            out.append(
                f"| {r['key']} | {p['rps']:,.0f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {added} |"
            )
    out += [
        "",
        "| row | CPU µs per request (median) | total | busiest | machine busy | not ours |",
        "|---|---|---:|---|---:|---:|",
    ]
    for r in result["rows"]:
        parts = _components(r)
        b = r["bottleneck"]
        out.append(
            f"| {r['key']} | {parts} | {r['total_cpu_us_per_req']:,.0f} | "
            f"{b['component']} {b['cores']:.2f} cores | {r['machine_busy']:.0%} | "
            f"{r['other_cores']:.2f} cores |"
        )
    out += [
        "",
        "| revocation wiring | n | p50 ms | p99 ms | bounded by |",
        "|---|---:|---:|---:|---|",
    ]
    for v in result["revocation"]:
        out.append(
            f"| {v['title']} | {v['n']} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['bound']} |"
        )
    out += ["", "| target | measured | verdict |", "|---|---|---|"]
    for t in result["targets"]:
        out.append(
            f"| {t['name']}: {t['target']} | {t['measured']} | {'PASS' if t['met'] else 'FAIL'} |"
        )
    return "\n".join(out)
