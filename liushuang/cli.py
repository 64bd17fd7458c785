"""The ``liushuang`` command line: a thin layer over the library.

Each command maps its options onto one library call; messages to users are in
Chinese, help texts in English with an example.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import orjson

from liushuang import __version__


class UsageError(click.ClickException):
    """A problem with how the command was called (exit code 2)."""

    exit_code = 2


def _policy(path: Path | None):
    from liushuang.policy import load_policy

    try:
        return load_policy(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"无法读取策略文件 {path}：{exc}") from exc


policy_option = click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
                             help="TOML file overriding the default policy values.")


def engine_options(fn):
    fn = click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                      help="Where the parallel work runs: this machine's cores, or a Dask cluster.")(fn)
    return click.option("--scheduler", help="Dask scheduler address [default: $LIUSHUANG_DASK_SCHEDULER or "
                        "$DASK_SCHEDULER_ADDRESS; else a LocalCluster on this machine].")(fn)


@contextmanager
def _engine(name: str, scheduler: str | None) -> Iterator[None]:
    """Run the block's parallel work on the chosen engine (liushuang/parallel.py)."""
    if name == "local":
        yield
        return
    from liushuang import parallel

    try:
        client = parallel.dask_client(scheduler)
    except ImportError as exc:
        raise UsageError("--engine dask 需要 dask.distributed：pip install 'dask[distributed]'") from exc
    except OSError as exc:
        raise UsageError(f"无法连接 Dask 调度器 {scheduler}：{exc}") from exc
    click.echo(f"Dask 集群：{len(client.scheduler_info()['workers'])} 个 worker（{client.scheduler.address}）", err=True)
    try:
        with parallel.engine(client):
            yield
    finally:
        cluster = client.cluster if not scheduler else None
        client.close()
        if cluster is not None:
            cluster.close()


class _DataLocation(click.ParamType):
    """DATA: a local folder or an fsspec URL (s3://bucket/export/, memory://…)."""

    name = "data"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        from liushuang.locations import location

        try:
            return location(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATA = _DataLocation()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="liushuang")
def main() -> None:
    """liushuang (六双): validate, publish and audit six-doubles supervision records."""


@main.command()
@click.argument("data", type=DATA)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON instead of tables.")
@click.option("--quarantine", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for rejected records with their reasons [default: DATA/../quarantine].")
@click.option("--max-issues", default=30, show_default=True, help="Issues listed in the table report.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: only on a terminal].")
@engine_options
@policy_option
def validate(data: Path, as_json: bool, quarantine: Path | None, max_issues: int, progress: bool | None,
             engine: str, scheduler: str | None, policy_path: Path | None) -> None:
    """Validate every record in DATA against the schemas and rules.

    DATA holds <kind>.<ext> files or <kind>/ folders (ext: jsonl, json, csv,
    parquet, xlsx). Exit 0 when every record is valid, 1 when some are not,
    2 for usage or I/O errors.

    Example: liushuang validate demo/data --quarantine demo/quarantine
    """
    from liushuang.generator.validate import Validator
    from liushuang.locations import RemotePath

    quarantine = quarantine or (Path("quarantine") if isinstance(data, RemotePath) else data.resolve().parent / "quarantine")
    try:
        with _engine(engine, scheduler):
            report = Validator(_policy(policy_path), quarantine_dir=quarantine, progress=progress).validate_dir(data)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        click.echo(report.render_text(max_issues))
    sys.exit(report.exit_code)


def _parse_defects(values: tuple[str, ...], everything: bool, fmt: str) -> dict[str, int]:
    from liushuang.synth.defects import ALL, JSON_ONLY

    # A broken line or an undefined field only exists in JSON: in a table it is a column.
    defects = {k: 1 for k in ALL if fmt in ("jsonl", "json") or k not in JSON_ONLY} if everything else {}
    if fmt != "jsonl":
        defects.pop("record-parse", None)
    for value in values:
        slug, _, count = value.partition("=")
        if slug not in ALL:
            raise UsageError(f"未知的缺陷类型“{slug}”；可选：{', '.join(ALL)}")
        try:
            defects[slug] = int(count or 1)
        except ValueError as exc:
            raise UsageError(f"缺陷数量应为整数：{value}") from exc
    return defects


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--entities", default=2000, show_default=True, help="Entities in the roster.")
@click.option("--years", default=3, show_default=True, help="Years of activity up to --until.")
@click.option("--seed", default=1, show_default=True, help="Random seed; the same seed gives the same files.")
@click.option("--until", default="2026-11-30", show_default=True, help="Last day of the synthetic period.")
@click.option("--late-share", default=0.08, show_default=True, help="Share of late or missing steps.")
@click.option("--defect", "defects", multiple=True, metavar="RULE[=N]", help="Inject N records breaking RULE (repeatable).")
@click.option("--all-defects", is_flag=True, help="Inject one defect of every kind.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "xlsx", "parquet"]), default="jsonl", show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "utf-8-sig", "gb18030"]), default="utf-8", show_default=True, help="CSV encoding.")
@click.option("--headers", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Column headers for tabular formats: field names or the national standard's Chinese titles.")
@click.option("--province", is_flag=True,
              help="Synthesise a province (14 cities; --entities is the province's total) into OUT/KIND/CITYCODE.jsonl, "
                   "with the policy holding its region codes in OUT.policy.toml (JSON Lines, no defects).")
def synth(out: Path, entities: int, years: int, seed: int, until: str, late_share: float, defects: tuple[str, ...],
          all_defects: bool, fmt: str, encoding: str, headers: str, province: bool) -> None:
    """Write a realistic synthetic dataset (every record kind) to OUT.

    Injected defects and the issues they must cause are listed in
    OUT/synth-manifest.json.

    Example: liushuang synth demo/data --entities 5000 --defect uscc-checksum=3
    """
    from liushuang.synth.generate import SynthConfig, generate, write_dataset

    try:
        until_day = dt.date.fromisoformat(until)
    except ValueError as exc:
        raise UsageError(f"--until 应为 YYYY-MM-DD：{until}") from exc
    if entities < 50 or years < 1:
        raise UsageError("--entities 至少为 50，--years 至少为 1")
    if province:
        from liushuang.synth.province import ProvinceConfig, policy_file, write_province

        if defects or all_defects or fmt != "jsonl":
            raise UsageError("--province 只生成 JSON Lines，不注入缺陷")
        manifest = write_province(out, ProvinceConfig(entities=entities, years=years, seed=seed, until=until_day),
                                  progress=lambda m: click.echo(f"✓ {m}", err=True))
        total = sum(f["records"] for f in manifest["files"].values())
        click.echo(f"已生成 {total} 条记录（{len(manifest['cities'])} 个城市）到 {out}；区划代码见 {policy_file(out)}（--policy）")
        return
    config = SynthConfig(entities=entities, years=years, seed=seed, until=until_day, late_share=late_share,
                         defects=_parse_defects(defects, all_defects, fmt))
    try:
        manifest = write_dataset(generate(config), out, fmt=fmt, encoding=encoding, style=headers)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    total = sum(f["records"] for f in manifest["files"].values())
    click.echo(f"已生成 {total} 条记录（{len(manifest['files'])} 个文件）到 {out}；注入缺陷 {len(manifest['expected_issues'])} 处")


class _AuditGroup(click.Group):
    """`liushuang audit DATA` runs every audit; `liushuang audit NAME DATA` one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["all", *args]
        return super().parse_args(ctx, args)


def _deadline_options(fn):
    fn = click.option("--as-of", help="Audit date (YYYY-MM-DD) [default: the latest date in the data].")(fn)
    return click.option("--calendar", "calendars", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                        help="Extra working-day calendar file (a year's State Council notice), repeatable.")(fn)


def _draw_options(fn):
    fn = click.option("--resamples", default=999, show_default=True, help="Monte Carlo re-runs of the recorded design.")(fn)
    fn = click.option("--seed", default=0, show_default=True, help="Seed of the Monte Carlo (the same seed gives the same report).")(fn)
    return click.option("--group", "groups", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                        help="A named group to test: a file of USCCs, one per line (e.g. a complaint list), repeatable.")(fn)


def _audit_options(fn):
    fn = click.argument("data", type=DATA)(fn)
    fn = click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
                      help="Directory for the reports (HTML, Markdown, JSON).")(fn)
    fn = click.option("--fail-on", type=click.Choice(["info", "low", "medium", "high"]),
                      help="Exit 1 when a finding reaches this grade (for CI).")(fn)
    fn = click.option("--site-url", default="/", show_default=True, help="Base URL of the public site, for record links.")(fn)
    fn = click.option("--progress/--no-progress", default=None, help="Progress bar [default: only on a terminal].")(fn)
    return engine_options(policy_option(fn))


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--as-of 应为 YYYY-MM-DD：{value}") from exc


def _stderr(message: str) -> None:
    """Where long runs announce their steps (the build's stages, the draws audit's), apart from their results."""
    click.echo(message, err=True)


def _build_day(value: str | None) -> dt.date:
    """--build-date, else SOURCE_DATE_EPOCH (reproducible builds), else today; dates are China Standard Time."""
    if value:
        return _as_of(value)  # type: ignore[return-value]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.timezone(dt.timedelta(hours=8))).date()
        except ValueError as exc:
            raise UsageError(f"环境变量 SOURCE_DATE_EPOCH 应为整数秒：{epoch}") from exc
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def _run_audits(names: list[str], index: bool, data: Path, output: Path, fail_on: str | None, site_url: str,
                progress: bool | None, policy_path: Path | None, as_of: str | None = None, calendars: tuple[Path, ...] = (),
                resamples: int = 999, seed: int = 0, groups: tuple[Path, ...] = (), engine: str = "local",
                scheduler: str | None = None) -> None:
    from liushuang.audit import run

    if not data.is_dir():
        raise UsageError(f"数据目录“{data}”不存在或不是目录")
    policy = _policy(policy_path)
    reports = []
    try:
        with _engine(engine, scheduler):
            deadline_data = draw_data = None
            if "draws" in names and "deadlines" in names:  # the records validated once for both
                deadline_data, draw_data = run.load_both(data, policy, progress=progress)
            # The deadline audit first, so its columns are freed before the draws audit's
            # statistics, the larger of the two (a province's audit is close to this machine's memory).
            deadlines = draws = None
            if "deadlines" in names:
                deadlines = run.deadlines_report(data, policy, calendar_files=calendars, as_of=_as_of(as_of),
                                                 site_url=site_url, progress=progress, loaded=deadline_data)
                deadline_data = None
            if "draws" in names:
                draws = run.draws_report(data, policy, resamples=resamples, seed=seed, groups=groups,
                                         site_url=site_url, progress=progress, loaded=draw_data,
                                         echo=_stderr)
            reports += [r for r in (draws, deadlines) if r is not None]
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    for report in reports:
        paths = report.write(output)
        worst = report.worst()
        click.echo(f"{report.title}：发现 {len(report.findings)} 项" + (f"（最高级别：{worst}）" if worst else "") + f" → {paths[0]}")
    if index:
        click.echo(f"索引：{run.write_index(output, reports)}")
    if fail_on and any(r.fails(fail_on) for r in reports):
        sys.exit(1)


@main.group(cls=_AuditGroup)
def audit() -> None:
    """Audit the supervision itself: `liushuang audit DATA -o REPORT` runs every audit.

    Example: liushuang audit demo/data -o demo/audit --fail-on high
    """


@audit.command("all")
@_audit_options
@_deadline_options
@_draw_options
def audit_all(**kw) -> None:
    """Run every audit on DATA and write the reports to --output.

    Example: liushuang audit all demo/data -o demo/audit
    """
    _run_audits(["draws", "deadlines"], True, **kw)


@audit.command("draws")
@_audit_options
@_draw_options
def audit_draws(**kw) -> None:
    """Were the spot-check draws random? Re-derive each draw, then test across draws.

    Each draw recorded with algorithm and seed is re-derived exactly (entities
    and inspectors), with its commitment, seed derivation and event order; a
    draw without them is reported not verifiable. Across all draws: exact
    Poisson-binomial tests per entity, exact hypergeometric-convolution tests
    for districts, industries, credit classes, inspectors' entities and --group
    files, Monte Carlo tests of diffuse bias and never-drawn entities, list
    order, inspector pairing (Tarone) and workload; with stated power.

    Example: liushuang audit draws demo/data -o demo/audit --group complaints.txt
    """
    _run_audits(["draws"], False, **kw)


@audit.command("deadlines")
@_audit_options
@_deadline_options
def audit_deadlines(**kw) -> None:
    """Were the legal deadlines and duties of all six doubles met, in Chinese working days?

    Claims within 5 working days, feedback, follow-up, publication within 7,
    withdrawal of revoked decisions within 3, results within 20, at least two
    inspectors, every item drawn yearly, class coverage, assessments applied,
    and bunching on the deadline day. A deadline in a year the calendar lacks
    is reported as not computable.

    Example: liushuang audit deadlines demo/data -o demo/audit --as-of 2026-11-30
    """
    _run_audits(["deadlines"], False, **kw)


def _pairs(values: tuple[str, ...], cast, option: str) -> dict:
    out = {}
    for value in values:
        key, sep, raw = value.partition("=")
        try:
            out[key] = cast(raw)
        except ValueError as exc:
            raise UsageError(f"{option} 应为 层=数值：{value}") from exc
        if not sep or not key:
            raise UsageError(f"{option} 应为 层=数值：{value}")
    return out


@main.command()
@click.argument("frame", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task-id", required=True, help="Task id (letters, digits, _ . -).")
@click.option("--department", required=True, help="Department running the task.")
@click.option("--item", "items", multiple=True, required=True, help="Inspection item id, repeatable.")
@click.option("--sample", "samples", multiple=True, metavar="STRATUM=N", help="Sample size of a stratum, repeatable.")
@click.option("--ratio", "ratios", multiple=True, metavar="STRATUM=R", help="Sampling ratio of a stratum (n = round(R·N), at least 1).")
@click.option("--inspectors", "roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The inspector roster (inspectors.jsonl): the pool is the department's active inspectors, with recusals.")
@click.option("--pool", "pool_ids", help="Comma-separated inspector ids, instead of the department's whole roster.")
@click.option("--per-entity", default=2, show_default=True, help="Inspectors per selected entity (at least 2, 行政处罚法 第四十二条).")
@click.option("--seed-source", required=True, help="Where the public random value will come from, e.g. a lottery draw and its date.")
@click.option("--public-value", "public_values", multiple=True, help="The public random value(s), once known: performs the draw.")
@click.option("--algorithm", type=click.Choice(["liushuang-ticket", "cryptorandom"]), default="liushuang-ticket", show_default=True)
@click.option("--at", "at_time", help="Time of this step (RFC 3339) [default: now, China time].")
@click.option("--committed-at", help="With --public-value: when the commitment was published (RFC 3339).")
@click.option("--commitment", "published", help="With --public-value: the commitment published in step 1; the draw is refused if the design changed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the task record (JSON) here.")
def draw(frame: Path, task_id: str, department: str, items: tuple[str, ...], samples: tuple[str, ...], ratios: tuple[str, ...],
         roster: Path, pool_ids: str | None, per_entity: int, seed_source: str, public_values: tuple[str, ...], algorithm: str,
         at_time: str | None, committed_at: str | None, published: str | None, output: Path | None) -> None:
    """Perform a verifiable spot-check draw (docs/draw-algorithm.md), in two steps.

    Without --public-value: print the commitment (SHA-256 over the frame,
    sample sizes, inspector pool, recusals and seed source) to publish before
    any randomness exists. With --public-value: derive the seed from the
    commitment and the public value(s), draw, and write the task record in the
    inspection_tasks schema, which anyone can re-derive with `liushuang audit draws`.

    Example: liushuang draw frame.csv --task-id RW2026SJ0001 --department 大连市市场监督管理局 --item SX001 --ratio A=0.01 --ratio D=0.3 --inspectors data/inspectors.jsonl --seed-source "福彩双色球 2026-12-08"
    """
    from liushuang.audit import draw as drawing

    if per_entity < 2:
        raise UsageError("--per-entity 至少为 2（行政处罚法第四十二条：执法人员不得少于两人）")
    try:
        members = drawing.read_frame(str(frame))
        sizes = drawing.sample_sizes(members, _pairs(samples, int, "--sample"), _pairs(ratios, float, "--ratio"))
        inspectors = [orjson.loads(line) for line in roster.read_bytes().splitlines() if line.strip()]
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"无法读取输入：{exc}") from exc
    now = at_time or dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0).isoformat()
    day = now[:10]
    wanted = set(pool_ids.split(",")) if pool_ids else None
    pool = [i for i in inspectors if (i["inspector_id"] in wanted if wanted else i["department"] == department)
            and i["active_from"] <= day and (not i.get("active_to") or i["active_to"] >= day)]
    recusals = {i["inspector_id"]: frozenset(r["uscc"] for r in i.get("recusals") or []) for i in pool}
    algo = (drawing.ALGORITHM_ID, drawing.ALGORITHM_VERSION) if algorithm == "liushuang-ticket" else (drawing.CRYPTORANDOM_ID, drawing.CRYPTORANDOM_VERSION)
    design = drawing.DrawDesign(task_id, tuple(members), sizes, tuple(sorted(recusals)), per_entity, seed_source,
                                {k: v for k, v in recusals.items() if v}, algo)
    commit = drawing.commitment(design)
    if not public_values:
        click.echo(f"承诺哈希（请在获得公开随机数之前公布）：{commit}")
        click.echo(f"名单 {len(members)} 户；各层样本量：{sizes}；检查人员库 {len(pool)} 人；种子来源：{seed_source}")
        return
    if published and published != commit:
        raise UsageError(f"名单、样本量、人员库或种子来源与已公布的承诺不一致（已公布 {published[:16]}…，现为 {commit[:16]}…）；不得抽取")
    try:
        record = drawing.task_record(design, commitment_hex=commit, committed_at=committed_at or now, public_values=public_values,
                                     drawn_at=now, department=department, items=items, plan_id=task_id, task_name=task_id,
                                     start_on=day, end_on=day, ratios=_pairs(ratios, float, "--ratio"))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    text = orjson.dumps(record, option=orjson.OPT_INDENT_2)
    if output:
        output.write_bytes(text + b"\n")
        click.echo(f"已抽取 {len(record['selections'])} 户，承诺 {commit[:16]}…，种子 {record['seed']['value'][:16]}… → {output}")
    else:
        sys.stdout.buffer.write(text + b"\n")


@main.command()
@click.argument("data", type=DATA)
@click.option("-o", "--output", required=True,
              help="Directory of the site, or an fsspec URL (s3://bucket/site, …): the site is then built in --work and "
                   "only its changed files are uploaded, removed ones deleted, the manifest last.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              help="With a URL as OUTPUT: the local folder the site is built in and kept for the next build "
                   "[default: ~/.cache/liushuang/sites/, one folder per URL].")
@click.option("--build-date", help="Date the site is built for (YYYY-MM-DD): publicity periods end relative to it "
              "[default: SOURCE_DATE_EPOCH if set, else today, China Standard Time].")
@click.option("--site-url", default="http://127.0.0.1:8000/", show_default=True, help="Public base URL, for the sitemap and feeds.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: only on a terminal].")
@click.option("--audit", "audit_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Reports of `liushuang audit` to publish under audit/.")
@click.option("--search/--no-search", default=True, show_default=True, help="Build the Pagefind search index.")
@click.option("--workers", type=int, help="Worker processes for rendering and indexing [default: all cores].")
@click.option("--incremental/--full", default=True, show_default=True,
              help="Reuse what did not change since the last build: the site in OUTPUT, its standby tree and the validation "
                   "cache beside it (.OUTPUT.standby, .OUTPUT.cache); the published files are never modified.")
@engine_options
@policy_option
def build(data: Path, output: str, work: Path | None, build_date: str | None, site_url: str, progress: bool | None,
          audit_dir: Path | None, search: bool, workers: int | None, incremental: bool, engine: str, scheduler: str | None,
          policy_path: Path | None) -> None:
    """Build the public site from DATA: only valid, publishable records, personal data masked.

    Pages per decision, entity and task; lists per kind, year and department;
    statistics; open-data downloads with datapackage.json and a DCAT
    catalogue; feeds and sitemap; Chinese search (Pagefind); the narrative
    pages (mkdocs-material). The site is written to a temporary folder and
    replaces OUTPUT only when the build succeeded. build-report.json counts,
    per kind, input = published + withheld (per reason) + rejected.

    Example: liushuang build demo/data -o demo/site --build-date 2026-11-30 --audit demo/audit
    """
    from liushuang.generator.site import build as build_site
    from liushuang.parallel import UnsharedFolder

    if not data.is_dir():
        raise UsageError(f"数据目录“{data}”不存在或不是目录")
    remote = output if "://" in output else None
    if remote is None and work is not None:
        raise UsageError("--work 只用于以 URL 指定的输出（-o s3://…）")
    local = (work or _site_work(remote)) if remote else Path(output)
    day = _build_day(build_date)
    try:
        with _engine(engine, scheduler):
            report = build_site(data, local, _policy(policy_path), build_date=day, progress=progress, site_url=site_url,
                                audit_dir=audit_dir, search=search, workers=workers, incremental=incremental,
                                echo=_stderr)
    except UnsharedFolder as exc:
        raise UsageError(str(exc)) from exc
    for kind, c in report.counts.items():
        withheld = "，".join(f"{k} {v}" for k, v in c["withheld"].items()) or "0"
        click.echo(f"{kind}: 输入 {c['input']} = 公开 {c['published']} + 不公开（{withheld}）+ 校验未通过 {c['rejected']}")
    reused = f"；与上次构建相同而直接沿用 {report.linked} 个页面、{len(report.search_reused)} 个搜索分片" if report.linked else ""
    click.echo(f"已生成 {report.pages} 个页面{reused} → {local}；本地查看：liushuang serve {local}")
    if report.standby.startswith("failed"):
        click.echo(f"注意：未能沿用上次构建留下的备用目录（{report.standby.removeprefix('failed: ')}），本次在新目录中构建："
                   "网站相同，只是更慢。", err=True)
    if remote and report.conserved:
        _upload(local, remote)
    sys.exit(0 if report.conserved else 1)


def _site_work(url: str) -> Path:
    """Where a site bound for ``url`` is built and kept between builds (its standby and caches beside it)."""
    import hashlib

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "liushuang" / "sites" / hashlib.sha256(url.encode()).hexdigest()[:16] / "site"


def _upload(site: Path, url: str) -> None:
    from liushuang.generator import manifest

    try:
        d = manifest.publish_remote(site, url)
    except ImportError as exc:
        raise UsageError(f"无法写入 {url}：{exc}（例如 s3:// 需要 pip install s3fs）") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"无法写入 {url}：{exc}") from exc
    click.echo(f"已上传 {len(d.upload)} 个文件，删除 {len(d.delete)} 个 → {url}")


@main.command()
@click.argument("site", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("data", type=DATA)
@click.option("--build-date", help="Build date to judge publicity by (YYYY-MM-DD) [default: the one in SITE/build-report.json].")
@click.option("--json", "as_json", type=click.Path(dir_okay=False, path_type=Path), help="Also write the findings as JSON here.")
@click.option("--workers", type=int, help="Worker processes [default: all cores].")
@click.option("--no-cache", is_flag=True, help="Parse every input line and output file afresh, ignoring what the last run kept "
              "beside SITE (.SITE.verify-cache).")
@policy_option
def verify(site: Path, data: Path, build_date: str | None, as_json: Path | None, workers: int | None, no_cache: bool,
           policy_path: Path | None) -> None:
    """Check a built SITE against its input DATA, reading only the files the build wrote.

    Every publishable record must have its page, appear on its entity page, in
    the search index and in every download; nothing withheld or rejected may
    appear anywhere; no ID number, mobile number or address anywhere; every
    internal link resolves; manifest.json matches the files. Exit code 1 on
    any discrepancy.

    Lines and files whose bytes are those of the last run are not parsed again
    (their facts are kept beside SITE); every check is still made on all of them.

    Example: liushuang verify demo/site demo/data --json verify.json
    """
    from liushuang.generator.verify import default_cache
    from liushuang.generator.verify import verify as run_verify

    if not data.is_dir():
        raise UsageError(f"数据目录“{data}”不存在或不是目录")
    try:
        report = run_verify(site, data, _policy(policy_path), build_date=_as_of(build_date), workers=workers,
                            echo=_stderr, cache=None if no_cache else default_cache(site))
    except FileNotFoundError as exc:  # not a liushuang site: no build-report.json to take the build date from
        raise UsageError(str(exc)) from exc
    click.echo(report.render_text())
    if as_json:
        as_json.write_bytes(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2))
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print {upload, delete, unchanged} as JSON.")
def diff(old: Path, new: Path, as_json: bool) -> None:
    """List what to upload and what to delete to turn the published OLD site into NEW.

    OLD and NEW are site folders or their manifest.json files. Files are
    compared by SHA-256; files gone from NEW (an expired penalty's page, say)
    must be deleted on the server too. Paths are relative to the site root.

    Example: liushuang diff last-night/manifest.json site --json > changes.json
    """
    from liushuang.generator import manifest

    try:
        d = manifest.diff(manifest.load(old), manifest.load(new))
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(d.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    for path in d.upload:
        click.echo(f"upload\t{path}")
    for path in d.delete:
        click.echo(f"delete\t{path}")
    click.echo(f"# 上传 {len(d.upload)}，删除 {len(d.delete)}，未变 {d.unchanged}", err=True)


@main.command()
@click.argument("site", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest")
def publish(site: Path, dest: str) -> None:
    """Publish a built SITE into DEST, copying only what changed.

    DEST is a folder (a web server's document root) or an fsspec URL such as
    s3://bucket/prefix (needs the filesystem's package, e.g. s3fs). New and
    changed files are copied (in a folder: written aside, then renamed into
    place), files gone from SITE are deleted from DEST, and DEST/manifest.json
    is replaced last.

    Example: liushuang publish site /var/www/shuanggongshi
    """
    from liushuang.generator import manifest

    try:
        d = manifest.publish(site, dest if "://" in dest else Path(dest))
    except (FileNotFoundError, ImportError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    click.echo(f"已发布到 {dest}：上传 {len(d.upload)}，删除 {len(d.delete)}，未变 {d.unchanged}")


@main.command()
@click.argument("site", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8000, show_default=True)
def serve(site: Path, port: int) -> None:
    """Serve a built site on http://127.0.0.1:PORT/ (loopback only).

    Example: liushuang serve demo/site --port 8000
    """
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        click.echo(f"http://127.0.0.1:{port}/  （Ctrl+C 停止）")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


@main.command()
def rules() -> None:
    """List every validation rule: slug, severity, title and basis.

    Example: liushuang rules
    """
    from liushuang.generator.rules import RULES

    for r in RULES.values():
        basis = f"  [{r.basis}]" if r.basis else ""
        click.echo(f"{r.slug:24} {r.severity:8} {r.title}：{r.explanation}{basis}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path), default="liushuang-demo")
@click.option("--entities", default=2000, show_default=True, help="Size of the synthetic city.")
def demo(out: Path, entities: int) -> None:
    """Run the whole job on built-in synthetic data: synthesise, validate, audit, build and verify the site.

    Example: liushuang demo liushuang-demo
    """
    from liushuang.audit import run
    from liushuang.generator.validate import Validator
    from liushuang.policy import load_policy
    from liushuang.synth.generate import SynthConfig, generate, write_dataset

    data = out / "data"
    config = SynthConfig(entities=entities)
    click.echo(f"1/5 生成合成数据（{entities} 个市场主体，截至 {config.until}）→ {data}")
    write_dataset(generate(config), data)
    click.echo("2/5 校验全部记录")
    report = Validator(quarantine_dir=out / "quarantine").validate_dir(data)
    click.echo(report.render_text(10))
    click.echo("")
    click.echo("3/5 审计：双随机抽取与履职期限")
    deadline_data, draw_data = run.load_both(data, load_policy())
    audits = [run.draws_report(data, load_policy(), loaded=draw_data),
              run.deadlines_report(data, load_policy(), as_of=config.until, loaded=deadline_data)]
    for a in audits:
        a.write(out / "audit")
    index = run.write_index(out / "audit", audits)
    for a in audits:
        counts = {g: sum(1 for f in a.findings if f.grade == g) for g in ("high", "medium", "low", "info")}
        click.echo(f"{a.title}：严重 {counts['high']}，中等 {counts['medium']}，轻微 {counts['low']}，提示 {counts['info']}")
    click.echo("4/5 生成公开网站")
    from liushuang.generator.site import build as build_site

    built = build_site(data, out / "site", load_policy(), build_date=config.until, audit_dir=out / "audit",
                       echo=lambda m: click.echo(f"  {m}", err=True))
    click.echo(f"已生成 {built.pages} 个页面")
    click.echo("5/5 核对网站与数据（liushuang verify）")
    from liushuang.generator.verify import verify as run_verify

    checked = run_verify(out / "site", data, load_policy())
    click.echo("一致：每条应公开的记录都在页面、主体页、搜索和下载中，不应公开的一条也没有。" if checked.ok
               else checked.render_text(5))
    click.echo("")
    click.echo(f"审计报告：{index}")
    click.echo(f"公开网站：liushuang serve {out / 'site'}  然后打开 http://127.0.0.1:8000/")
    click.echo(f"查看错误报告的样子：liushuang synth {out}/bad --all-defects && liushuang validate {out}/bad")
    sys.exit(report.exit_code)


if __name__ == "__main__":
    main()
