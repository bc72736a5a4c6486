"""Policy documents as citizens need them: tables as text rows, no page furniture, real titles."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.importers import ImportOptions, import_path
from knowledge.importers.document_text import DocumentText, row_text
from knowledge.importers.documents import document_title
from knowledge.models import PolicyChunk
from tests.utils.factories import as_chunks, write

CONDITIONS = [
    "（一）具有本市城镇户籍；",
    "（二）家庭人均住房使用面积15平方米(含)以下；",
    "（三）在京连续缴纳社会保险7年及以上；",
]


def _chunks(path: Path, size: int = 400) -> list[PolicyChunk]:
    result = import_path(path, "auto", ImportOptions(chunk_chars=size, chunk_overlap=20))
    assert result.errors == []
    return as_chunks(result.items)


def _joined(chunks: list[PolicyChunk]) -> str:
    return "\n".join(c.text for c in chunks)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["办理条件", "年满18周岁"], "办理条件：年满18周岁"),
        (["办理条件：", "1.年满18周岁\n2.本市户籍"], "办理条件：\n1.年满18周岁\n2.本市户籍"),
        (["家庭人口", "年收入", "住房面积"], "家庭人口 | 年收入 | 住房面积"),
        (["合并单元格", "合并单元格"], "合并单元格"),  # a merged cell repeats in python-docx
        (["", ""], ""),
    ],
)
def test_row_text(cells: list[str], expected: str) -> None:
    assert row_text(cells) == expected


def _docx(
    path: Path, *, title: str = "", paragraphs: tuple[str, ...] = (), table: list[list[str]] | None = None
) -> Path:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path


def test_docx_whose_body_is_a_table(tmp_path: Path) -> None:
    """The issue's "document has no text": a service guide laid out as a two-column table."""
    table = [
        ["事项名称", "城乡养老保险制度衔接之转入"],
        ["办理条件", "缴费年限满15年；\n已确定广州市为待遇领取地。"],
        ["办理时限", "15个工作日"],
    ]
    path = _docx(tmp_path / "guide.docx", table=table)
    chunks = _chunks(path)
    text = _joined(chunks)
    assert "事项名称：城乡养老保险制度衔接之转入" in text
    assert "办理条件：\n缴费年限满15年；\n已确定广州市为待遇领取地。" in text
    assert "办理时限：15个工作日" in text
    assert chunks[0].doc_title == "城乡养老保险制度衔接之转入"


def test_docx_table_between_paragraphs_keeps_order_and_metadata_title(tmp_path: Path) -> None:
    path = _docx(
        tmp_path / "rules.docx",
        title="北京市公共租赁住房申请审核及配租管理办法",
        paragraphs=("第四条 申请家庭应当符合下列条件：", *CONDITIONS),
        table=[["家庭人口", "年收入上限"], ["3口及以下", "10万元(含)以下"]],
    )
    chunks = _chunks(path)
    assert chunks[0].doc_title == "北京市公共租赁住房申请审核及配租管理办法"
    text = _joined(chunks)
    assert all(condition in text for condition in CONDITIONS)
    assert text.index("（三）") < text.index("3口及以下：10万元(含)以下")


GBK_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>关于印发公共租赁住房管理办法的通知-公告公示-首都之窗</title></head><body>
<div class="top"><a href="/m">手机门户</a> <a href="/">首页</a>
<a href="/a">政务公开</a> <a href="/b">办事服务</a></div>
<div class="crumb">首页 &gt; 工作动态 &gt; 公告公示</div>
<table><tr><td>
  <h1>北京市公共租赁住房申请、审核及配租管理办法</h1>
  <p>第四条 符合下列条件之一的，可以申请公共租赁住房：</p>
  <p>（一）具有本市城镇户籍；</p><p>（二）家庭人均住房使用面积15平方米(含)以下；</p>
  <table><tr><th>家庭人口</th><th>年收入</th></tr><tr><td>3口及以下</td><td>10万元(含)以下</td></tr>
  <tr><td>4口及以上</td><td>13万元(含)以下</td></tr></table>
  <p>第五条 申请人对审核结果有异议的，可以向区住房保障部门申请复核。</p>
</td><td><ul><li><a href="/1">相关链接一</a></li><li><a href="/2">相关链接二</a></li></ul></td></tr></table>
<div class="foot"><a href="/about">关于我们</a> | <a href="/map">网站地图</a></div>
<p>【打印本页】</p></body></html>"""


def test_html_navigation_removed_tables_become_rows_and_gbk_is_read(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(GBK_PAGE.encode("gb18030"))
    chunks = _chunks(path)
    text = _joined(chunks)
    for furniture in ("手机门户", "政务公开", "工作动态", "相关链接", "网站地图", "打印本页"):
        assert furniture not in text
    assert "3口及以下：10万元(含)以下" in text and "4口及以上：13万元(含)以下" in text
    assert "（二）家庭人均住房使用面积15平方米(含)以下；" in text
    assert chunks[0].doc_title == "北京市公共租赁住房申请、审核及配租管理办法"
    assert [c.article for c in chunks] == ["第四条", "第五条"]


def _write_pdf(path: Path, pages: list[list[str]], title: str = "") -> None:
    """A PDF with Helvetica text, one list of lines per page, built with pypdf alone."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for lines in pages:
        page = writer.add_blank_page(width=612, height=792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        shown = " ".join(f"({line}) Tj T*" for line in lines)
        stream.set_data(f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title})
    writer.write(str(path))


def test_pdf_page_numbers_and_running_headers_are_removed(tmp_path: Path) -> None:
    body = [
        [
            "Article 1. Applicants who have lived in the city for six months may apply.",
            "Article 2. The permit is issued within fifteen working days.",
        ],
        [
            "Article 3. The permit is renewed every year at a service hall or online.",
            "Article 4. A lost permit is replaced within ten working days.",
        ],
        ["Article 5. These rules take effect on the day of publication."],
    ]
    pages = [["City Gazette 2016 Issue 3", *lines, f"- {n} -"] for n, lines in enumerate(body, start=1)]
    path = tmp_path / "rules.pdf"
    try:
        _write_pdf(path, pages, title="Residence Permit Service Rules")
    except Exception as exc:  # pypdf's writer API is the only PDF tool installed
        pytest.skip(f"cannot generate a PDF with pypdf here: {exc}")
    chunks = _chunks(path, size=1000)
    text = _joined(chunks)
    assert "City Gazette" not in text and "- 2 -" not in text
    assert all(line in text for lines in body for line in lines)
    assert chunks[0].doc_title == "Residence Permit Service Rules"


@pytest.mark.parametrize(
    ("body", "hints", "expected"),
    [
        ("# 广东省失业保险条例\n\n第一条 为了保障失业人员的基本生活，制定本条例。", [], "广东省失业保险条例"),
        (
            "中华人民共和国国务院令\n\n第663号\n\n《居住证暂行条例》已经国务院常务会议通过，现予公布。",
            [],
            "居住证暂行条例",
        ),
        (
            "惠州市人民政府文件\n\n惠府〔2016〕57号\n\n关于调整惠州市社会\n\n基本医疗保险有关政策的通知\n\n各县、区人民政府：",
            ["惠州市人民政府文件"],
            "关于调整惠州市社会基本医疗保险有关政策的通知",
        ),
        ("正文第一段没有标题，写得很长很长，说明了很多事情。", ["手机门户"], "stem"),
        (
            "第一条 本办法所称公共租赁住房，是指政府提供政策支持的住房。",
            ["北京市公共租赁住房管理办法"],
            "北京市公共租赁住房管理办法",
        ),
    ],
)
def test_document_title(body: str, hints: list[str], expected: str) -> None:
    assert document_title(Path("stem.txt"), DocumentText(body, hints)) == expected


def test_txt_title_is_not_an_issuing_header(tmp_path: Path) -> None:
    first = "第一条 为了保障因工作遭受事故伤害的职工获得医疗救治。"
    text = f"中华人民共和国国务院令\n\n第586号\n\n工伤保险条例\n\n{first}"
    chunks = _chunks(write(tmp_path / "law.txt", text))
    assert chunks[0].doc_title == "工伤保险条例"
    assert chunks[-1].title == "《工伤保险条例》第一条"
