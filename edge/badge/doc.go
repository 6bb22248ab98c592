// Package badge renders visitor badges for the lobby kiosk: one layout,
// driven by a small tenant-editable Template, drawn onto the label sizes the
// kiosk's printers take (Brother62x100 and Label4x3in), and encoded as PNG,
// PDF or ZPL, or reduced to a 1-bit Bitmap for raster printers.
//
// # How the kiosk engine uses it
//
// At check-in, after the visit is committed, the engine builds a Data from the
// visit (CheckoutCode from CheckoutQRPayload), parses the tenant's template
// (ParseTemplate; the empty string gives DefaultTemplate), and calls RenderPNG
// (or RenderImage, then whichever encoding the configured printer wants). The
// bytes go into the print queue in SQLite; a worker hands them to an
// edge/printer Printer and retries by the error it gets back. Rendering never
// touches the network, the clock or randomness, so the check-in path stays fast
// and a failed render is a programming error, reported as an error, never a
// lost check-in.
//
// # Guarantees
//
// Rendering is deterministic: the same Data, Template and Size give the same
// pixels and the same PNG, PDF and ZPL bytes, so golden files in testdata/
// hold (on one CPU architecture: the rasteriser uses floating point, and a
// compiler that fuses multiply-adds may move an anti-aliased edge by one
// level). Text never leaves its box: long names shrink, then wrap onto two
// lines, then end in an ellipsis. The QR code is drawn with whole-pixel modules
// of at least 0.4 mm and a four-module quiet zone, large enough for the
// kiosk's camera and hand scanners.
//
// The Go fonts cover Latin, Greek and Cyrillic scripts; other scripts render
// as empty boxes. The package keeps no state between calls and is safe for
// concurrent use.
package badge
