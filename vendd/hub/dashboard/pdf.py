"""A maker's statement on one A4 sheet (fpdf2): her line of the statement by maker with the
split, what she was paid and is owed, her products, and the journal rows and chain head of
every machine it covers, so she can check it against any copy of the journal. Drawn with
DejaVu Sans when the system has it (every Spanish letter), else the PDF core font."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF

from vendd.hub.dashboard.accounts import Accounts

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

Text = Callable[..., str]


def statement_pdf(acc: Accounts, maker: str, maker_name: str, t: Text,
                  money: Callable[[int], str], machine_label: str) -> bytes:
    st = acc.statement
    sh = st.shares
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    if FONT.exists() and BOLD.exists():
        pdf.add_font("body", "", str(FONT))
        pdf.add_font("body", "B", str(BOLD))
        family = "body"
    else:
        family = "helvetica"
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 10, t("statement_of", maker=maker_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    pdf.cell(0, 6, f"{t('period')}: {st.period.describe()} ({st.timezone})",
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"{t('machine')}: {machine_label}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    row = st.report.rows[0] if st.report.rows else (maker, maker_name, 0, 0)
    split = st.splits[0].as_tuple() if st.splits else (0, 0, 0)
    paid = st.paid.get(maker, 0)
    lines = [
        (t("items"), str(row[-2])),
        (t("gross"), money(row[-1])),
        (t("maker_share", pct=sh.maker), money(split[0])),
        (t("collective", pct=sh.collective), money(split[1])),
        (t("museum", pct=sh.museum), money(split[2])),
        (t("paid"), money(paid)),
        (t("to_pay"), money(split[0] - paid)),
    ]
    for label, value in lines:
        pdf.set_font(family, "", 11)
        pdf.cell(70, 7, label, border="B")
        pdf.set_font(family, "B", 11)
        pdf.cell(40, 7, value, border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    if acc.by_product and acc.by_product.report.rows:
        pdf.ln(5)
        pdf.set_font(family, "B", 11)
        pdf.cell(0, 7, t("by_product"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        shown = acc.by_product.report.rows[:30]  # one sheet: the 30 best-selling products
        for prow in sorted(shown, key=lambda r: -r[-1]):
            pdf.cell(100, 5.5, str(prow[0])[:60], border="B")
            pdf.cell(20, 5.5, str(prow[-2]), border="B", align="R")
            pdf.cell(30, 5.5, money(prow[-1]), border="B", align="R", new_x="LMARGIN",
                     new_y="NEXT")
    pdf.ln(5)
    pdf.set_font(family, "", 8)
    pdf.multi_cell(0, 4.5, t("rounding"), new_x="LMARGIN", new_y="NEXT")
    for machine, stamp in acc.stamps.items():
        pdf.multi_cell(0, 4.5, f"{machine}: " + t(
            "chain_head", first=stamp.first_seq, last=stamp.last_seq, head=stamp.head_seq,
            hash=stamp.head or "-"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
