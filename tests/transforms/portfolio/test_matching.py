"""UK share identification: same day, the following 30 days, the s104 pool; HMRC's examples.

HMRC's worked examples round every cost to whole pounds and carry the rounded pool forward,
so their figures are compared with a tolerance of £1 for each step that rounded (one per
disposal taken from a pool). Our exact figures are asserted as well, from our own arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.transforms.portfolio.test_gains import D, disposals, event
from transforms.portfolio.matching import tax_year, uk_date


def hmrc(value: Decimal, figure: int, steps: int = 1) -> bool:
    """Whether our exact ``value`` is HMRC's whole-pound ``figure`` within £1 per step."""
    return abs(value - figure) <= steps


def pool(quantity, cost, when="2005-05-03"):
    """A holding bought long before the example, so that it sits in the pool."""
    return event("buy", when, quantity, cost, event_id="pool")


def test_tax_years_run_from_6_april():
    assert tax_year(date(2024, 4, 5)) == "2023/24"
    assert tax_year(date(2024, 4, 6)) == "2024/25"
    assert tax_year(date(2025, 4, 5)) == "2024/25"
    assert tax_year(date(1999, 12, 31)) == "1999/00"


def test_uk_dates_are_london_dates():
    assert uk_date(datetime(2024, 7, 1, 23, 30, tzinfo=UTC)) == date(2024, 7, 2)  # BST
    assert uk_date(datetime(2024, 12, 31, 23, 30, tzinfo=UTC)) == date(2024, 12, 31)  # GMT


def test_hs284_example_3_pool_with_costs_on_both_sides():
    """HS284 Example 3 (Lobster plc, 2020 edition dates): gains £329 and £300."""
    events = [
        event("buy", "2014-04-01", 1000, 4000, 150),
        event("buy", "2017-09-01", 500, 2050, 80),
        event("sell", "2018-05-01", 700, 3360, 100),
        event("sell", "2019-02-01", 400, 2080, 105),
    ]
    first, second = disposals("uk", events)
    assert hmrc(first.acquisition_costs, 2931) and hmrc(first.gain, 329)
    assert hmrc(second.acquisition_costs, 1675, steps=2) and hmrc(second.gain, 300, steps=2)
    assert first.acquisition_costs == D("2930.6666666667")  # 6,280 x 700 / 1,500
    assert second.acquisition_costs == D("1674.6666666667")  # 3,349.33 x 400 / 800
    assert first.allowable_costs == D("3030.6666666667") and first.sale_costs == 100
    assert (first.year, second.year) == ("2018/19", "2018/19")
    assert (first.matching, second.matching) == ("pool 700", "pool 400")
    # nothing was bought near a sale, so the average method gives the same costs
    average = disposals("average", events)
    assert [r.gain for r in average] == [first.gain, second.gain]


def test_cg51590_example_1_thirty_days_across_a_tax_year_then_the_pool():
    """CG51590 Example 1 (Ms Davy): gain £60 on the 30-day match, then £4,444 from the pool."""
    events = [
        event("buy", "2006-04-15", 1000, 1300),
        event("buy", "2006-08-04", 1000, 1450),
        event("buy", "2007-01-19", 500, 950),
        event("sell", "2010-03-16", 2000, 6850),
        event("buy", "2010-04-07", 2000, 6790),
        event("sell", "2010-12-10", 2200, 7700),
        event("sell", "2011-12-12", 300, 600),
    ]
    bed, pooled, rest = disposals("uk", events)
    assert (bed.matching, bed.gain, bed.year) == ("30 days 2000", 60, "2009/10")
    assert bed.disposal_id == "GB00TEST:2010-03-16"
    # the 2,000 bought on 7 April never enter the pool: 2,500 shares at 3,700 remain
    assert (pooled.matching, pooled.acquisition_costs, pooled.gain) == ("pool 2200", 3256, 4444)
    assert pooled.year == "2010/11"
    assert rest.acquisition_costs == 444  # the pool after: 300 shares, £444


@pytest.mark.parametrize(
    ("sold", "bought", "matching", "costs"),
    [
        # CG51560 Miss A: sells 1,000, buys 1,000 on day 30, inside the window
        (("2011-07-01", 1000), ("2011-07-31", 1000), "30 days 1000", (2000, 5000)),
        # CG51560 Mrs C: sells 2,000, buys 3,000 on day 31, outside: it joins the pool
        (("2009-02-28", 2000), ("2009-03-31", 3000), "pool 2000", (2000, 9000)),
        # day 30 in the next tax year
        (("2024-03-20", 1000), ("2024-04-19", 1000), "30 days 1000", (2000, 5000)),
    ],
)
def test_cg51560_the_window_ends_on_day_30(sold, bought, matching, costs):
    """Prices are ours (HMRC gives none): the pool at £1 a share, the purchase at £2."""
    (sold_on, sold_quantity), (bought_on, bought_quantity) = sold, bought
    left = 5000 - sold_quantity + bought_quantity
    events = [
        pool(5000, 5000),
        event("sell", sold_on, sold_quantity, 3 * sold_quantity),
        event("buy", bought_on, bought_quantity, 2 * bought_quantity),
        event("sell", "2030-01-02", left, 50000),
    ]
    sale, later = disposals("uk", events)
    assert sale.matching == matching
    assert (sale.acquisition_costs, later.acquisition_costs) == costs
    assert later.matching == f"pool {left}"


def test_cg51560_mr_b_part_from_30_days_part_from_the_pool():
    events = [pool(2000, 2000), event("sell", "2012-03-27", 1700, 3400)]
    [sale] = disposals("uk", [*events, event("buy", "2012-03-30", 500, 1500)])
    assert sale.matching == "30 days 500; pool 1200"
    assert sale.acquisition_costs == 1500 + 1200


def test_crypto22256_same_day_then_30_days_then_the_pool():
    """CRYPTO22256 (Gulferaz): gains £15,000 and £10,000, then a loss of £163,637 (HMRC)."""
    events = [
        pool(100_000, 300_000, "2023-01-04"),
        event("buy", "2023-07-31T09:00", 10_000, 45_000),
        event("sell", "2023-07-31T15:00", 30_000, 150_000),
        event("sell", "2023-08-05", 20_000, 100_000),
        event("buy", "2023-08-06", 50_000, 225_000),
        event("sell", "2023-08-07", 100_000, 150_000),
    ]
    first, second, third = disposals("uk", events)
    assert first.matching == "same day 10000; 30 days 20000"
    assert (first.acquisition_costs, first.gain) == (135_000, 15_000)
    assert (second.matching, second.gain) == ("30 days 20000", 10_000)
    # the 10,000 left of 6 August join the pool: 110,000 shares at £345,000
    assert third.matching == "pool 100000"
    assert hmrc(third.acquisition_costs, 313_637) and hmrc(third.gain, -163_637)
    assert third.acquisition_costs == D("313636.3636363636")


def test_crypto22252_one_day_is_one_disposal_whatever_the_order():
    """CRYPTO22252 (Martyn): 1,500 sold against 1,500 of the day's 1,600, gain £462 (HMRC)."""
    events = [
        pool(5000, 500, "2023-01-04"),
        event("sell", "2023-06-01T09:00", 1000, 800),
        event("buy", "2023-06-01T10:00", 1600, 1000),
        event("sell", "2023-06-01T11:00", 500, 600, fees=2),
        event("sell", "2023-09-01", 5100, 5100),
    ]
    day, rest = disposals("uk", events)
    assert (day.quantity, day.proceeds, day.sale_costs) == (1500, 1400, 2)
    assert day.matching == "same day 1500"
    assert day.disposed_at == datetime(2023, 6, 1, 11, tzinfo=UTC)  # the day's last sale
    assert hmrc(day.acquisition_costs, 938) and day.acquisition_costs == D("937.5")
    assert hmrc(day.gain + day.sale_costs, 462)
    assert rest.acquisition_costs == D("562.5")  # the 100 left over joined the pool at £62.50


def test_crypto22253_earlier_disposals_take_the_window_first():
    """CRYPTO22253 (Rachel): gains £165 and £20; the 1 May purchase is day 31 for 31 March."""
    events = [
        event("sell", "2023-03-31", 1000, 400),
        event("sell", "2023-04-20", 500, 150),
        event("buy", "2023-04-21", 700, 175),
        event("buy", "2023-04-28", 500, 100),
        event("buy", "2023-05-01", 500, 150),
        event("sell", "2023-09-01", 200, 100),
    ]
    first, second, rest = disposals("uk", events)
    assert (first.matching, first.gain, first.year) == ("30 days 1000", 165, "2022/23")
    assert (second.matching, second.gain, second.year) == ("30 days 500", 20, "2023/24")
    assert (rest.matching, rest.acquisition_costs) == ("pool 200", 60)


def test_crypto22255_thirty_days_then_the_pool():
    """CRYPTO22255 (Melanie): gain £92,500, pool after 10,500 at £150,000."""
    events = [
        pool(14_000, 200_000, "2023-01-04"),
        event("sell", "2023-08-30", 4000, 160_000),
        event("buy", "2023-09-11", 500, 17_500),
        event("sell", "2024-01-05", 10_500, 100_000),
    ]
    sale, rest = disposals("uk", events)
    assert (sale.matching, sale.gain) == ("30 days 500; pool 3500", 92_500)
    assert (rest.matching, rest.acquisition_costs) == ("pool 10500", 150_000)


def test_crypto22251_the_pool_is_not_fifo():
    """CRYPTO22251 (Victoria): cost £42,000 from the pool, where FIFO would take £500."""
    events = [
        event("buy", "2023-01-04", 100, 1000),
        event("buy", "2023-02-01", 50, 125_000),
        event("sell", "2023-03-01", 50, 300_000),
    ]
    [uk] = disposals("uk", events)
    [fifo] = disposals("fifo", events)
    assert (uk.acquisition_costs, uk.gain) == (42_000, 258_000)
    assert fifo.acquisition_costs == 500


def test_a_split_inside_the_pool():
    events = [
        event("buy", "2019-01-01", 20, 200),
        event("split", "2019-02-01", ratio=2),
        event("sell", "2019-04-01", 40, 240),
    ]
    [sale] = disposals("uk", events)
    assert (sale.quantity, sale.acquisition_costs, sale.gain) == (40, 200, 40)


def test_a_30_day_buyback_after_a_split_is_counted_in_the_units_of_the_sale():
    events = [
        event("buy", "2019-01-01", 20, 200),
        event("sell", "2019-02-01", 20, 240),
        event("buy", "2019-02-10", 10, 100),
        event("split", "2019-02-15", ratio=2),
        event("buy", "2019-02-20", 20, 100),  # 20 new shares are 10 of the sale's units
        event("sell", "2019-09-01", 40, 400),
    ]
    sale, rest = disposals("uk", events)
    assert (sale.matching, sale.acquisition_costs, sale.gain) == ("30 days 20", 200, 40)
    # the first 20 shares stayed in the pool and became 40
    assert (rest.matching, rest.acquisition_costs) == ("pool 40", 200)


@pytest.mark.parametrize("split_first", [False, True])
def test_a_split_at_the_time_of_a_sale_applies_in_the_given_order(split_first):
    at = "2024-03-01T12:00"
    sale, split = event("sell", at, 10, 300), event("split", at, ratio=2)
    events = [
        event("buy", "2024-01-02", 10, 100),
        *([split, sale] if split_first else [sale, split]),
    ]
    [uk] = disposals("uk", events)
    [average] = disposals("average", events)
    # after the split the 10 sold are half the holding; before it, all of it
    expected = 50 if split_first else 100
    assert uk.acquisition_costs == average.acquisition_costs == expected
    assert uk.quantity == 10 and uk.matching == "pool 10"


def test_the_uk_day_is_the_london_date():
    events = [
        pool(100, 100, "2024-01-02"),
        event("sell", "2024-07-01T23:30", 10, 50),  # 00:30 on 2 July in London
        event("buy", "2024-07-02T08:00", 10, 40),
    ]
    [sale] = disposals("uk", events)
    assert (sale.matching, sale.day, sale.disposal_id) == (
        "same day 10",
        date(2024, 7, 2),
        "GB00TEST:2024-07-02",
    )
    assert sale.disposed_at == datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    [average] = disposals("average", events)
    assert average.day == date(2024, 7, 1)


def test_a_short_sale_is_covered_by_a_buyback_else_has_no_cost():
    events = [
        event("sell", "2024-01-02", 10, 100),
        event("buy", "2024-01-10", 10, 80),
        event("sell", "2024-03-01", 13, 130),
    ]
    covered, over = disposals("uk", events)
    assert (covered.matching, covered.gain) == ("30 days 10", 20)
    assert (over.matching, over.acquisition_costs) == ("short 13 without cost", 0)
    events[2] = event("sell", "2024-03-01", 13, 130)
    events.insert(2, event("buy", "2024-02-01", 5, 50))
    _, over = disposals("uk", events)
    assert (over.matching, over.acquisition_costs) == ("pool 5; short 8 without cost", 50)


def test_a_transfer_in_joins_the_pool_and_is_never_matched():
    events = [
        pool(10, 100, "2024-01-02"),
        event("sell", "2024-03-01", 10, 150),
        event("transfer_in", "2024-03-03", 10, 90),
        event("sell", "2024-06-01", 10, 120),
    ]
    sale, later = disposals("uk", events)
    assert (sale.matching, sale.acquisition_costs) == ("pool 10", 100)
    assert (later.matching, later.acquisition_costs) == ("pool 10", 90)
