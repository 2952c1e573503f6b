package lobbyui

import (
	"image"
	"testing"
)

func TestLayoutPlacesTableLeftPanelRightFooterBelow(t *testing.T) {
	for _, tc := range []struct {
		w, h     int
		wantRows int
	}{
		// 768 high: the rows run from 116 to 768-88-8 = 672, 23 of 24 px.
		{1024, 768, 23},
		{1920, 1080, 36},
		// Too short for any row: the table is empty, nothing overlaps.
		{1024, 200, 0},
		// Too narrow for both: the table keeps its minimum, the panel
		// goes past the right edge rather than over the table.
		{400, 768, 23},
	} {
		l := NewLayout(tc.w, tc.h)
		if len(l.Rows) != tc.wantRows {
			t.Errorf("%dx%d: %d rows, want %d", tc.w, tc.h, len(l.Rows), tc.wantRows)
		}
		if l.Table.Dx() < MinTableW {
			t.Errorf("%dx%d: table %d wide, want at least %d", tc.w, tc.h, l.Table.Dx(), MinTableW)
		}
		if l.Table.Overlaps(l.Panel) || l.PlayNow.Overlaps(l.Table) {
			t.Errorf("%dx%d: table %v overlaps panel %v or play button %v", tc.w, tc.h, l.Table, l.Panel, l.PlayNow)
		}
		for i, r := range l.Rows {
			if !r.In(l.Table) || r.Dy() != RowH || r.Min.Y != TableTop+HeaderH+i*RowH {
				t.Errorf("%dx%d: row %d at %v, want %d px high at y %d inside the table %v", tc.w, tc.h, i, r, RowH, TableTop+HeaderH+i*RowH, l.Table)
			}
			if r.Max.Y > l.Message.Min.Y {
				t.Errorf("%dx%d: row %d %v runs into the message box %v", tc.w, tc.h, i, r, l.Message)
			}
		}
		for f := range NumFields {
			if !l.Fields[f].In(l.Panel) {
				t.Errorf("%dx%d: field %d %v outside the panel %v", tc.w, tc.h, f, l.Fields[f], l.Panel)
			}
			if f > 0 && l.Fields[f].Min.Y <= l.Fields[f-1].Max.Y-1 {
				t.Errorf("%dx%d: field %d %v overlaps field %d %v", tc.w, tc.h, f, l.Fields[f], f-1, l.Fields[f-1])
			}
		}
		if !l.Create.In(l.Panel) || l.Create.Min.Y < l.Fields[NumFields-1].Max.Y {
			t.Errorf("%dx%d: create button %v not below the fields in the panel %v", tc.w, tc.h, l.Create, l.Panel)
		}
	}
	// The panel hugs the right margin when there is room.
	if l := NewLayout(1024, 768); l.Panel.Max.X != 1024-Margin || l.Table.Max.X != l.Panel.Min.X-Gap {
		t.Errorf("1024 wide: panel %v, table %v; want the panel at the right margin, the table up to the gap", l.Panel, l.Table)
	}
}

func TestLayoutHit(t *testing.T) {
	l := NewLayout(1024, 768)
	row0, row1 := l.Rows[0], l.Rows[1]
	tick, capacity := l.Fields[FieldTickRate], l.Fields[FieldCapacity]
	for _, tc := range []struct {
		name string
		p    image.Point
		want Hit
	}{
		{"middle of play now", image.Pt(l.PlayNow.Min.X+10, l.PlayNow.Min.Y+10), Hit{Kind: HitPlayNow}},
		{"just right of play now", image.Pt(l.PlayNow.Max.X, l.PlayNow.Min.Y+10), Hit{}},
		{"first row's top left pixel", row0.Min, Hit{Kind: HitRow, Index: 0}},
		{"first row's last line", image.Pt(row0.Min.X+50, row0.Max.Y-1), Hit{Kind: HitRow, Index: 0}},
		{"first row's bottom edge is the second row", image.Pt(row0.Min.X+50, row0.Max.Y), Hit{Kind: HitRow, Index: 1}},
		{"second row's right end", image.Pt(row1.Max.X-1, row1.Min.Y+5), Hit{Kind: HitRow, Index: 1}},
		{"last row", image.Pt(l.Rows[len(l.Rows)-1].Min.X+1, l.Rows[len(l.Rows)-1].Min.Y+1), Hit{Kind: HitRow, Index: len(l.Rows) - 1}},
		{"the header is not a row", image.Pt(l.Header.Min.X+5, l.Header.Min.Y+5), Hit{}},
		{"the gap between table and panel", image.Pt(l.Table.Max.X+Gap/2, row0.Min.Y+5), Hit{}},
		{"tick rate field", image.Pt(tick.Min.X+5, tick.Min.Y+5), Hit{Kind: HitField, Index: int(FieldTickRate)}},
		{"between tick rate and capacity", image.Pt(tick.Min.X+5, tick.Max.Y+2), Hit{}},
		{"capacity field", image.Pt(capacity.Max.X-1, capacity.Max.Y-1), Hit{Kind: HitField, Index: int(FieldCapacity)}},
		{"visibility field", l.Fields[FieldVisibility].Min, Hit{Kind: HitField, Index: int(FieldVisibility)}},
		{"create button", image.Pt(l.Create.Min.X+100, l.Create.Min.Y+14), Hit{Kind: HitCreate}},
		{"the title", image.Pt(30, 20), Hit{}},
		{"the message box", image.Pt(l.Message.Min.X+5, l.Message.Min.Y+5), Hit{}},
		{"off screen", image.Pt(-5, -5), Hit{}},
	} {
		if got := l.Hit(tc.p); got != tc.want {
			t.Errorf("%s: Hit(%v) = %+v, want %+v", tc.name, tc.p, got, tc.want)
		}
	}
}
