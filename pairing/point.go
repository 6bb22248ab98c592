package pairing

import (
	"errors"
	"math/big"
)

// Edwards25519 constants (RFC 8032 §5.1), built on each call: the package
// keeps no mutable globals, and a key is checked once, at registration.
func curve() (p, d, sqrtM1 *big.Int) {
	p = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// d = -121665 / 121666 mod p
	d = new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	// sqrt(-1) = 2^((p-1)/4) mod p
	e := new(big.Int).Rsh(new(big.Int).Sub(p, big.NewInt(1)), 2)
	sqrtM1 = new(big.Int).Exp(big.NewInt(2), e, p)
	return p, d, sqrtM1
}

var (
	errNotOnCurve    = errors.New("not a point on the curve")
	errNonCanonical  = errors.New("non-canonical encoding")
	errSmallOrderKey = errors.New("a key of small order (anyone could sign for it)")
)

// checkPublicKeyPoint decodes a 32-byte Ed25519 public key as RFC 8032
// §5.1.3 does and refuses it if it is not on the curve, is not the
// canonical encoding of its point, or has small order (its multiple by the
// cofactor 8 is the identity). Ed25519 verification in Go is cofactorless,
// and with a small-order key a forger can choose R so that [S]B = R + [k]A
// holds for any message about one time in eight; refusing such keys at
// registration closes that door.
func checkPublicKeyPoint(b []byte) error {
	p, d, sqrtM1 := curve()
	// Little-endian y with the top bit as the sign of x.
	le := make([]byte, 32)
	for i := range 32 {
		le[31-i] = b[i]
	}
	sign := le[0] >> 7
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	if y.Cmp(p) >= 0 {
		return errNonCanonical
	}
	// x² = (y² - 1) / (d y² + 1)
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	u.Mod(u, p)
	v := new(big.Int).Mul(d, y2)
	v.Add(v, big.NewInt(1)).Mod(v, p)
	x2 := new(big.Int).Mul(u, new(big.Int).ModInverse(v, p))
	x2.Mod(x2, p)
	// Candidate root x = x2^((p+3)/8); fix it up with sqrt(-1) if needed.
	e := new(big.Int).Rsh(new(big.Int).Add(p, big.NewInt(3)), 3)
	x := new(big.Int).Exp(x2, e, p)
	if sq := new(big.Int).Exp(x, big.NewInt(2), p); sq.Cmp(x2) != 0 {
		x.Mul(x, sqrtM1).Mod(x, p)
		if sq := new(big.Int).Exp(x, big.NewInt(2), p); sq.Cmp(x2) != 0 {
			return errNotOnCurve
		}
	}
	if x.Sign() == 0 && sign == 1 {
		return errNonCanonical
	}
	if uint8(x.Bit(0)) != sign {
		x.Sub(p, x)
	}
	// [8]P by three doublings with the complete twisted Edwards addition
	// law (a = -1): x3 = (x1y2 + y1x2) / (1 + d x1x2y1y2),
	// y3 = (y1y2 + x1x2) / (1 - d x1x2y1y2).
	for range 3 {
		x, y = edAdd(x, y, x, y, p, d)
	}
	if x.Sign() == 0 && y.Cmp(big.NewInt(1)) == 0 {
		return errSmallOrderKey
	}
	return nil
}

func edAdd(x1, y1, x2, y2, p, d *big.Int) (*big.Int, *big.Int) {
	x1y2 := new(big.Int).Mul(x1, y2)
	y1x2 := new(big.Int).Mul(y1, x2)
	y1y2 := new(big.Int).Mul(y1, y2)
	x1x2 := new(big.Int).Mul(x1, x2)
	t := new(big.Int).Mul(d, x1x2)
	t.Mul(t, y1y2).Mod(t, p)
	dx := new(big.Int).Add(big.NewInt(1), t)
	dy := new(big.Int).Sub(big.NewInt(1), t)
	x3 := new(big.Int).Add(x1y2, y1x2)
	x3.Mul(x3, new(big.Int).ModInverse(dx.Mod(dx, p), p)).Mod(x3, p)
	y3 := new(big.Int).Add(y1y2, x1x2)
	y3.Mul(y3, new(big.Int).ModInverse(dy.Mod(dy, p), p)).Mod(y3, p)
	return x3, y3
}
