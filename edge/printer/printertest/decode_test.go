package printertest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
)

func TestDecodeZPLGraphic(t *testing.T) {
	bm := badge.NewBitmap(12, 3)
	bm.SetBlack(0, 0, true)
	bm.SetBlack(11, 2, true)
	got, err := DecodeZPLGraphic(badge.EncodeZPL(bm))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(bm) {
		t.Error("round trip through EncodeZPL changed the bitmap")
	}
	// ^FO moves the graphic on a ^PW × ^LL canvas.
	placed, err := DecodeZPLGraphic([]byte("^XA^PW20^LL10^FO8,4^GFA,2,2,1,80\n01^FS^XZ"))
	if err != nil {
		t.Fatal(err)
	}
	if placed.Width != 20 || placed.Height != 10 || !placed.Black(8, 4) || !placed.Black(15, 5) || placed.Black(0, 0) {
		t.Errorf("placed graphic wrong: %dx%d", placed.Width, placed.Height)
	}
	for name, in := range map[string]string{
		"no XA":        "^GFA,1,1,1,FF^XZ",
		"no XZ":        "^XA^GFA,1,1,1,FF",
		"no graphic":   "^XA^FO0,0^FDhello^FS^XZ",
		"counts":       "^XA^GFA,2,3,1,FFFF^FS^XZ",
		"short data":   "^XA^GFA,2,2,1,FF^FS^XZ",
		"not hex":      "^XA^GFA,1,1,1,GG^FS^XZ",
		"compressed":   "^XA^GFA,4,4,1,:Z64:abc^FS^XZ",
		"huge canvas":  "^XA^PW99999^LL10^GFA,1,1,1,FF^FS^XZ",
		"bad row size": "^XA^GFA,3,3,2,FFFFFF^FS^XZ",
	} {
		if _, err := DecodeZPLGraphic([]byte(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
}

func TestDecodeBrotherRasterErrors(t *testing.T) {
	bm := badge.NewBitmap(printer.BrotherPrintableDots, 200)
	bm.SetBlack(0, 0, true)
	bm.SetBlack(695, 199, true)
	job, err := printer.EncodeBrotherRaster(bm, printer.BrotherContinuous62, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBrotherRaster(job)
	if err != nil || !got.Equal(bm) {
		t.Fatalf("decode: %v", err)
	}
	// Column 0 is pin 707, column 695 pin 12: the line is mirrored.
	first := bytes.Index(job, []byte{'g', 0, 90}) + 3
	if job[first+707/8] != 0x80>>(707%8) {
		t.Errorf("column 0 is not at pin 707")
	}
	cases := map[string][]byte{
		"no print":         job[:len(job)-1],
		"unknown command":  append(bytes.Clone(job[:402]), 0x1B, 'x'),
		"line count":       bytes.Replace(job, []byte{0xC8, 0, 0, 0}, []byte{0xC9, 0, 0, 0}, 1),
		"pin outside area": append(append(bytes.Clone(job[:bytes.Index(job, []byte{'g', 0, 90})]), append([]byte{'g', 0, 90, 0x80}, make([]byte, 89)...)...), 0x1A),
		"short line":       append(bytes.Clone(job[:bytes.Index(job, []byte{'g', 0, 90})]), 'g', 0, 2, 0, 0, 0x1A),
	}
	for name, in := range cases {
		if _, err := DecodeBrotherRaster(in); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
