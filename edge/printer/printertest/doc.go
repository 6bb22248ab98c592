// Package printertest provides loopback fakes of the kiosk's network label
// printers and decoders that turn a print job back into an image, for tests
// of the printer drivers, the edge engine's print queue and the kiosk UI.
//
// FakeZebra answers ~HS host status and records ZPL labels; FakeBrother
// answers the QL raster status request, records raster jobs and reports
// completion or an error the way a QL-820NWB does. Both listen on
// 127.0.0.1 on a free port and can be switched between ready, no media and
// cover open (and a few more) while running. DecodeBrotherRaster and
// DecodeZPLGraphic return a recorded job's picture as a *badge.Bitmap, to
// compare with badge.Monochrome of the rendered badge.
package printertest
