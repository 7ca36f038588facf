"""The income split (收益分配) of a seller's net proceeds between institution and inventors.

net = price − seller's fee. The inventor team gets ``net × inventor_share`` rounded half-up to
the fen (the only rounding here); the institution gets the **remainder**, ``net − inventors``, so
the two parts always add up to the net exactly. The share is configured per seller; the default
is 70 %, the floor many rules set (Liaoning §(三)4, Heilongjiang §4(2)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from services.settlement.domain.errors import InvalidSplit
from services.settlement.domain.money import apply_rate, require_fen

DEFAULT_INVENTOR_SHARE = Decimal("0.70")


def _check_share(share: object) -> Decimal:
    if not isinstance(share, Decimal) or not share.is_finite() or not 0 <= share <= 1:
        raise InvalidSplit(detail=f"An inventor share is a Decimal in [0, 1], got {share!r}.")
    return share


def require_floor(share: Decimal, floor: Decimal) -> Decimal:
    """A seller's configured inventor share: never below the exchange's floor."""
    if share < floor:
        raise InvalidSplit(
            f"The inventor share may not be below {floor}.",
            errors=[{"field": "body.inventor_share", "message": f"at least {floor}"}])
    return share


@dataclass(frozen=True)
class SplitPolicy:
    """The default share and per-seller overrides (seller id → inventor share)."""

    default_inventor_share: Decimal = DEFAULT_INVENTOR_SHARE
    per_seller: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_share(self.default_inventor_share)
        for share in self.per_seller.values():
            _check_share(share)
        object.__setattr__(self, "per_seller", MappingProxyType(dict(self.per_seller)))

    def inventor_share_for(self, seller_id: str) -> Decimal:
        return self.per_seller.get(seller_id, self.default_inventor_share)


@dataclass(frozen=True)
class Split:
    net_fen: int
    inventor_fen: int
    institution_fen: int
    inventor_share: Decimal


def split_net(price_fen: int, seller_fee_fen: int, inventor_share: Decimal = DEFAULT_INVENTOR_SHARE
              ) -> Split:
    require_fen(price_fen, "price_fen")
    require_fen(seller_fee_fen, "seller_fee_fen")
    _check_share(inventor_share)
    if seller_fee_fen > price_fen:
        raise InvalidSplit(detail=f"The seller's fee {seller_fee_fen} exceeds the price "
                                  f"{price_fen} fen.")
    net = price_fen - seller_fee_fen
    inventors = apply_rate(net, inventor_share)  # rounded half-up to the fen
    return Split(net_fen=net, inventor_fen=inventors, institution_fen=net - inventors,
                 inventor_share=inventor_share)


def split_for(price_fen: int, seller_fee_fen: int, seller_id: str,
              policy: SplitPolicy | None = None) -> Split:
    """:func:`split_net` with the share configured for ``seller_id``."""
    share = (policy or SplitPolicy()).inventor_share_for(seller_id)
    return split_net(price_fen, seller_fee_fen, share)
