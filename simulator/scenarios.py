"""Scripted people at the simulated machine: the demo's buyers and seamstresses (seeded random
traffic lives in simulator/traffic.py)."""

from __future__ import annotations

from collections.abc import Callable

from simulator.sim import Simulation
from vendd.events import ClearSlotFault, SetStock, VendOutcome
from vendd.machine import Mode
from vendd.money import Money

Say = Callable[[str], None]


def coins_for(amount: int, coins: list[int]) -> list[int]:
    """Coins a buyer would put in to reach `amount`: largest first, overshooting by at most
    the smallest coin."""
    out, left = [], amount
    for coin in sorted(coins, reverse=True):
        while left >= coin:
            out.append(coin)
            left -= coin
    if left > 0:
        out.append(min(c for c in coins if c >= left))
    return out


def coin_values(sim: Simulation) -> list[int]:
    """The coins a buyer can put in: the coin acceptor's table, or the MDB changer's."""
    values = sim.coin_values()
    assert values, "no coin acceptor and no changer configured"
    return values


def pay(sim: Simulation, price: int) -> list[int]:
    """Insert coins until the credit covers `price`, waiting for each to be credited.
    Returns the coins the acceptor kept."""
    return [coin for coin in coins_for(max(price - sim.state.credit, 0), coin_values(sim))
            if insert_and_wait(sim, coin)]


def insert_and_wait(sim: Simulation, coin: int) -> bool:
    """One coin, once the acceptor takes coins; then wait until it is credited, so that at
    most one coin is ever between the acceptor and the journal. False when it was refused."""
    sim.wait(lambda s: sim.accepting() or s.mode is Mode.OUT_OF_SERVICE)
    before = sim.state.credit
    if not sim.insert_coin(coin):
        return False
    sim.wait(lambda s: s.credit > before)
    return True


def seamstress_prepares(sim: Simulation, actor: str) -> list[str]:
    """She clears old faults and fills every spiral to capacity. Returns what she did."""
    controller = sim.daemon.controller
    assert controller is not None
    done = []
    for slot in sim.state.slots.values():
        if slot.fault is not None:
            sim.repair(slot.id)
            controller.submit(ClearSlotFault(actor, slot.id)).result(5)
            done.append(f"{slot.id}: fault {slot.fault} cleared")
        if slot.stock < slot.capacity:
            controller.submit(SetStock(actor, slot.id, slot.capacity)).result(5)
            done.append(f"{slot.id}: {slot.stock} -> {slot.capacity}")
        sim.load(slot.id, slot.capacity)
    return done


def buy(sim: Simulation, slot_id: str, say: Say | None = None) -> bool:
    """Pay for and select one product; True when it was delivered. `say` narrates the coins."""
    sim.wait_idle()  # a changer may still be paying back the credit of a failed vend
    slot = sim.state.slots[slot_id]
    held = sim.state.credit
    coins = pay(sim, slot.price)
    if say is not None:
        money = Money(sim.config.machine.currency, sim.config.machine.decimals)
        paid = " + ".join(money(c) for c in coins) or "no coins"
        already = f" (the machine already held {money(held)} of credit)" if held else ""
        say(f"  coins in: {paid}{already}")
    sales_before = sim.state.last_vend_id
    sim.press(slot_id)
    state = sim.wait(lambda s: s.last_vend_id > sales_before and s.vend is None)
    return state.slots[slot_id].fault is None


def demo(sim: Simulation, say: Say) -> None:
    money = Money(sim.config.machine.currency, sim.config.machine.decimals)
    maker = sim.config.makers[0]
    say(f"{maker.name} opens the door and fills the machine:")
    for line in seamstress_prepares(sim, maker.id):
        say(f"  {line}")

    slots = sim.config.slots
    # Any number of slots: the first, one further on, and a third that is neither.
    first, second = slots[0], slots[min(2, len(slots) - 1)]
    fallback = next((s for s in slots[6:7] + slots[3:] + slots[:3] if s.id != second.id), first)
    say(f"Buyer 1 pays {money(first.price)} in coins for {first.id} ({first.product})")
    buy(sim, first.id, say)
    say(f"  display: {' | '.join(sim.display())}")
    if len(slots) == 1:
        return  # one spiral: nothing to jam and fall back from

    sim.inject(second.id, VendOutcome.JAMMED)
    say(f"Buyer 2 pays {money(second.price)} for {second.id} ({second.product}); "
        f"the spiral jams")
    delivered = buy(sim, second.id, say)
    assert not delivered
    say(f"  display: {' | '.join(sim.display())}; credit back: {money(sim.state.credit)}")
    say(f"Buyer 2 chooses {fallback.id} ({fallback.product}, {money(fallback.price)}) instead")
    buy(sim, fallback.id, say)
    say(f"  display: {' | '.join(sim.display())}")
    left = sim.state.credit
    if left:
        say(f"  {money(left)} of credit stays for the next purchase (no changer fitted)")

