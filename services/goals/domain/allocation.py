"""Pure allocation maths: split a team target into individual targets, exactly, with reasons.

Money is integer minor units throughout. Weights are exact (Decimal, Fraction or int in; integers
over one common scale inside), so the only rounding anywhere is the final largest-remainder step,
which keeps every split conservative: the individual targets always add up to the team target to
the last minor unit. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import gcd, lcm
from typing import Any, TypeVar

from shared.domain_errors import InvalidInput
from shared.money import split_exact_marked

K = TypeVar("K", bound=Hashable)
Weight = Fraction | Decimal | int

_ZERO = Fraction(0)
_ONE = Fraction(1)


class Method(StrEnum):
    """How a team target is turned into weights."""

    EQUAL = "equal"
    HISTORICAL = "historical"
    CAPACITY = "capacity"
    BLENDED = "blended"


# --------------------------------------------------------------------------- value checks


def check_minor(name: str, value: object, *, allow_negative: bool = False) -> int:
    """Return value if it is an integer amount of minor units, else raise InvalidInput."""
    # bool is an int subclass and floats are never money: both are refused outright.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer amount of minor units", field=name)
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{name} must not be negative", field=name)
    return value


def to_fraction(value: object, name: str) -> Fraction:
    """Convert an int, Decimal or Fraction to an exact Fraction; refuse floats and non-numbers."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, not a boolean", field=name)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{name} must be a finite number", field=name)
        return Fraction(value)
    # Floats would make the split depend on binary rounding: callers pass Decimal instead.
    raise InvalidInput(f"{name} must be an int, Decimal or Fraction", field=name)


def _unit_interval(value: object, name: str) -> Fraction:
    """Convert to Fraction and require 0 <= value <= 1."""
    exact = to_fraction(value, name)
    if not _ZERO <= exact <= _ONE:
        raise InvalidInput(f"{name} must be between 0 and 1", field=name, value=str(value))
    return exact


def ratio_text(numerator: int, denominator: int) -> str:
    """Render numerator / denominator exactly: a finite decimal when one exists, else 'p/q'."""
    # Works on plain ints (math.gcd is C code): building Fraction objects for every figure of
    # a large team's derivations would cost more than the split itself.
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    common = gcd(numerator, denominator)
    num, den = numerator // common, denominator // common
    if den == 1:
        return str(num)
    rest, twos, fives = den, 0, 0
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{num}/{den}"
    places = max(twos, fives)
    scaled = num * (10**places // den)
    digits = str(abs(scaled)).rjust(places + 1, "0")
    sign = "-" if scaled < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")


def format_exact(value: Fraction) -> str:
    """Render a fraction exactly: a finite decimal when one exists, otherwise 'p/q'."""
    return ratio_text(value.numerator, value.denominator)


def _exact_ratio(value: Fraction | Decimal | int) -> tuple[int, int]:
    """(numerator, denominator) of an already validated number."""
    if isinstance(value, int):
        return value, 1
    return value.as_integer_ratio()


# --------------------------------------------------------------------------- inputs and outputs


@dataclass(frozen=True)
class MemberInput:
    """One rep as the allocation sees them."""

    member_id: Hashable
    capacity: Decimal | Fraction = Decimal(1)
    ramp: Decimal | Fraction = Decimal(1)
    # Achieved minor amounts of closed periods, most recent first.
    history: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _unit_interval(self.capacity, f"capacity of {self.member_id}")
        _unit_interval(self.ramp, f"ramp of {self.member_id}")
        history = tuple(self.history)
        for amount in history:
            # Refunds can make a closed period negative, so the sign is allowed here.
            check_minor(f"history of {self.member_id}", amount, allow_negative=True)
        object.__setattr__(self, "history", history)


@dataclass(frozen=True)
class AllocationParams:
    """Tunables of the methods: N closed periods for historical, alpha for blended."""

    periods: int = 4
    alpha: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        if isinstance(self.periods, bool) or not isinstance(self.periods, int) or self.periods < 1:
            raise InvalidInput("periods must be a positive integer", field="periods")
        _unit_interval(self.alpha, "alpha")


@dataclass(frozen=True)
class Derivation:
    """Why one rep's target is what it is; every value is JSON-able."""

    method: str
    inputs: dict[str, Any]
    # The weight this rep took part in the split with ("0" when overridden: not in the split).
    weight: str
    # weight / sum of the weights of everyone in the split: the rep's fraction of the pool.
    share: str
    # What was split by weight: the team total less all overrides.
    pool_minor: int
    # Exact amount before rounding (pool x share), or the override itself.
    raw_minor: str
    # +1 when largest-remainder rounding gave this rep one extra minor unit, else 0.
    rounding_adjustment_minor: int
    overridden: bool

    def to_json(self) -> dict[str, Any]:
        """Return the derivation as a plain dict for storage or the wire."""
        return asdict(self)


@dataclass(frozen=True)
class Allocation:
    """Individual targets that add up to total_minor, each with its derivation."""

    method: Method
    total_minor: int
    pool_minor: int
    targets: dict[Hashable, int]
    derivations: dict[Hashable, Derivation] = field(repr=False)


# --------------------------------------------------------------------------- method weights


@dataclass(frozen=True)
class _Weights:
    """Method weights as integers over one common scale: weight of k = ints[k] / scale."""

    ints: dict[Hashable, int]
    scale: int
    inputs: dict[Hashable, dict[str, Any]]


def _equal(members: Sequence[MemberInput]) -> _Weights:
    ids = [m.member_id for m in members]
    return _Weights(dict.fromkeys(ids, 1), 1, {k: {} for k in ids})


def _historical(members: Sequence[MemberInput], periods: int) -> _Weights:
    """Mean of each rep's last N results; reps without history get the median of the others."""
    used = {m.member_id: m.history[:periods] for m in members}
    inputs: dict[Hashable, dict[str, Any]] = {
        k: {"periods": periods, "history_used": list(h)} for k, h in used.items()
    }
    # Means over the common multiple of the history lengths are integers, and doubling them
    # keeps the median (the mean of two middle values) an integer too: no Fraction needed.
    lengths = {len(h) for h in used.values() if h}
    if not lengths:
        for k in inputs:
            inputs[k]["source"] = "no_team_history_equal"
        return _Weights(dict.fromkeys(used, 1), 1, inputs)
    scale = 2 * lcm(*lengths)
    # A net-negative history (refunds) cannot be a negative weight: it counts as zero.
    own = {k: max(sum(h) * (scale // len(h)), 0) for k, h in used.items() if h}
    ranked = sorted(own.values())
    middle = len(ranked) // 2
    median = ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) // 2
    ints: dict[Hashable, int] = {}
    for k in used:
        if k in own:
            ints[k] = own[k]
            inputs[k]["source"] = "own_history"
        else:
            ints[k] = median
            inputs[k]["source"] = "team_median"
            inputs[k]["team_median"] = ratio_text(median, scale)
    return _Weights(ints, scale, inputs)


def _capacity(members: Sequence[MemberInput]) -> _Weights:
    """FTE x ramp for each rep."""
    products: dict[Hashable, tuple[int, int]] = {}
    inputs: dict[Hashable, dict[str, Any]] = {}
    for member in members:
        cap_num, cap_den = _exact_ratio(member.capacity)
        ramp_num, ramp_den = _exact_ratio(member.ramp)
        products[member.member_id] = (cap_num * ramp_num, cap_den * ramp_den)
        inputs[member.member_id] = {
            "capacity": ratio_text(cap_num, cap_den),
            "ramp": ratio_text(ramp_num, ramp_den),
        }
    scale = lcm(*{den for _, den in products.values()})
    ints = {k: num * (scale // den) for k, (num, den) in products.items()}
    return _Weights(ints, scale, inputs)


def _blended(
    members: Sequence[MemberInput], sharers: Sequence[MemberInput], params: AllocationParams
) -> _Weights:
    """alpha x historical share + (1 - alpha) x capacity share, as one integer weight each."""
    # The median is a team statistic, so it is taken over everyone, overridden reps included.
    hist, cap = _historical(members, params.periods), _capacity(members)
    alpha_num, alpha_den = _exact_ratio(params.alpha)
    # Shares are normalised over the reps who split the pool, so that alpha keeps its meaning
    # among them whatever the overridden reps' history or capacity is; all-zero means equal.
    ids = [m.member_id for m in sharers]
    h = {k: hist.ints[k] for k in ids}
    c = {k: cap.ints[k] for k in ids}
    if ids and not any(h.values()):
        h = dict.fromkeys(ids, 1)
    if ids and not any(c.values()):
        c = dict.fromkeys(ids, 1)
    h_sum, c_sum = sum(h.values()), sum(c.values())
    # alpha*h/H + (1-alpha)*c/C over the common denominator alpha_den * H * C.
    scale = alpha_den * h_sum * c_sum or 1
    ints: dict[Hashable, int] = {}
    inputs: dict[Hashable, dict[str, Any]] = {}
    alpha_text = ratio_text(alpha_num, alpha_den)
    for member in members:
        k = member.member_id
        inputs[k] = {
            "alpha": alpha_text,
            "periods": params.periods,
            "history_used": hist.inputs[k]["history_used"],
            "history_source": hist.inputs[k]["source"],
            "historical_weight": ratio_text(hist.ints[k], hist.scale),
            **cap.inputs[k],
            "capacity_weight": ratio_text(cap.ints[k], cap.scale),
        }
        if k in h:
            inputs[k]["historical_share"] = ratio_text(h[k], h_sum)
            inputs[k]["capacity_share"] = ratio_text(c[k], c_sum)
            ints[k] = alpha_num * h[k] * c_sum + (alpha_den - alpha_num) * c[k] * h_sum
        else:
            ints[k] = 0
    return _Weights(ints, scale, inputs)


def _method_weights(
    method: Method,
    members: Sequence[MemberInput],
    sharers: Sequence[MemberInput],
    params: AllocationParams,
) -> _Weights:
    """Weights and their inputs for every member (overridden ones too, for the record)."""
    if method is Method.EQUAL:
        return _equal(members)
    if method is Method.CAPACITY:
        return _capacity(members)
    if method is Method.HISTORICAL:
        return _historical(members, params.periods)
    return _blended(members, sharers, params)


# --------------------------------------------------------------------------- allocate


def _parse_method(method: Method | str) -> Method:
    try:
        return Method(method)
    except ValueError:
        allowed = ", ".join(m.value for m in Method)
        raise InvalidInput(f"unknown allocation method {method!r}; use one of {allowed}") from None


def _checked_overrides(
    overrides: Mapping[Hashable, int], known: set[Hashable], total_minor: int, everyone: bool
) -> int:
    """Validate overrides against the team and the total; return their sum."""
    unknown = [k for k in overrides if k not in known]
    if unknown:
        raise InvalidInput(
            "override for a member who is not in the team: " + ", ".join(map(str, unknown)),
            members=[str(k) for k in unknown],
        )
    for member_id, amount in overrides.items():
        check_minor(f"override of {member_id}", amount)
    fixed = sum(overrides.values())
    if fixed > total_minor:
        raise InvalidInput(
            f"overrides add up to {fixed}, more than the team total {total_minor}",
            overrides_minor=fixed,
            total_minor=total_minor,
        )
    if everyone and known and fixed != total_minor:
        raise InvalidInput(
            f"every member is overridden but the overrides add up to {fixed}, "
            f"not the team total {total_minor}",
            overrides_minor=fixed,
            total_minor=total_minor,
        )
    return fixed


def allocate(
    *,
    total_minor: int,
    method: Method | str,
    members: Sequence[MemberInput],
    params: AllocationParams | None = None,
    overrides: Mapping[Hashable, int] | None = None,
) -> Allocation:
    """Split a team target over its members by a method, honouring overrides, exactly."""
    method = _parse_method(method)
    params = params or AllocationParams()
    overrides = dict(overrides or {})
    check_minor("total_minor", total_minor)
    known = {m.member_id for m in members}
    if len(known) != len(members):
        raise InvalidInput("a member appears more than once in the team")
    if not members and total_minor:
        raise InvalidInput("cannot allocate a non-zero total to a team without members")
    sharers = [m for m in members if m.member_id not in overrides]
    fixed = _checked_overrides(overrides, known, total_minor, everyone=not sharers)
    pool = total_minor - fixed

    weights = _method_weights(method, members, sharers, params)
    int_weights = {m.member_id: weights.ints[m.member_id] for m in sharers}
    amounts, bumped = split_exact_marked(pool, int_weights)
    weight_sum = sum(int_weights.values())
    # The split treats all-zero weights as equal; the derivation must show the shares it used.
    all_zero = weight_sum == 0
    if all_zero:
        int_weights = dict.fromkeys(int_weights, 1)
        weight_sum = len(int_weights)

    targets: dict[Hashable, int] = {}
    derivations: dict[Hashable, Derivation] = {}
    for member in members:
        k = member.member_id
        inputs = dict(weights.inputs[k])
        if k in overrides:
            inputs["override_minor"] = overrides[k]
            targets[k] = overrides[k]
            derivations[k] = Derivation(
                method=method.value,
                inputs=inputs,
                weight="0",
                share="0",
                pool_minor=pool,
                raw_minor=str(overrides[k]),
                rounding_adjustment_minor=0,
                overridden=True,
            )
            continue
        if all_zero:
            inputs["fallback"] = "all weights are zero: equal split"
        targets[k] = amounts[k]
        derivations[k] = Derivation(
            method=method.value,
            inputs=inputs,
            weight=ratio_text(weights.ints[k], weights.scale),
            share=ratio_text(int_weights[k], weight_sum),
            pool_minor=pool,
            raw_minor=ratio_text(pool * int_weights[k], weight_sum),
            rounding_adjustment_minor=1 if k in bumped else 0,
            overridden=False,
        )
    return Allocation(
        method=method,
        total_minor=total_minor,
        pool_minor=pool,
        targets=targets,
        derivations=derivations,
    )
