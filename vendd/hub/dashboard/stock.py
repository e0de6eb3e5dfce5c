"""Stock with the collective's own thresholds: the ledger's stock report (fill, the sales rate
per selling day, days left) over each machine's replica, each slot judged against the
thresholds of `[stock]` in hub.toml (per machine, per slot), and restock lists."""

from __future__ import annotations

from dataclasses import dataclass

from vendd.hub.config import HubConfig, StockThresholds
from vendd.hub.dashboard.data import maker_names, replica
from vendd.hub.store import Store
from vendd.ledger.stock import SlotStock, stock_report


@dataclass(frozen=True)
class SlotView:
    machine: str
    slot: str
    product: str
    maker: str
    maker_name: str
    price: int
    stock: int
    capacity: int
    per_day: float
    days_left: float | None
    state: str  # ok | low | empty | disabled | fault
    fault: str | None

    @property
    def fill_pct(self) -> int:
        return round(100 * self.stock / self.capacity) if self.capacity else 0

    @property
    def to_bring(self) -> int:
        return max(self.capacity - self.stock, 0)


def judge(s: SlotStock, th: StockThresholds) -> str:
    if s.fault:
        return "fault"
    if not s.enabled:
        return "disabled"
    if s.stock == 0:
        return "empty"
    if (s.stock <= s.capacity * th.low_fraction
            or (th.low_at is not None and s.stock <= th.low_at)
            or (s.days_left is not None and s.days_left < th.low_days)):
        return "low"
    return "ok"


@dataclass
class MachineStock:
    machine: str
    slots: list[SlotView]
    selling_days: int
    window_days: int


def machine_stock(config: HubConfig, store: Store, machine: str,
                  maker: str | None = None) -> MachineStock:
    with replica(config, store, machine) as db:
        report = stock_report(db, config.accounts_of(machine).timezone)
        prices = dict(db.conn.execute("SELECT id, price FROM slots"))
        names = maker_names(db)
    slots = [SlotView(machine, s.slot, s.product, s.maker, names.get(s.maker, s.maker),
                      prices.get(s.slot, 0), s.stock, s.capacity, s.per_day, s.days_left,
                      judge(s, config.stock.for_slot(machine, s.slot)), s.fault)
             for s in sorted(report.slots, key=lambda x: x.slot)
             if maker is None or s.maker == maker]
    return MachineStock(machine, slots, report.selling_days, report.window_days)


def needs_restock(s: SlotView) -> bool:
    return s.state in ("low", "empty")


def stocks(config: HubConfig, store: Store, machines: list[str],
           maker: str | None = None) -> list[MachineStock]:
    known = {m.id for m in store.machines() if m.head_seq > 0}
    return [machine_stock(config, store, m, maker) for m in machines if m in known]
