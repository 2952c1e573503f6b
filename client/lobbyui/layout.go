// Package lobbyui is the lobby screen's logic apart from drawing it: the
// rooms in the order shown, where every row and button sits, what a click
// or a key does, the create panel's choices, where a lobby join sends the
// game and what the player reads when something fails. Package client
// draws it with Ebiten; this package imports no Ebiten (which needs a
// display as soon as it is loaded), so its tests run anywhere.
package lobbyui

import "image"

// The layout is fixed in screen pixels (Ebiten's logical pixels, which the
// game keeps equal to the window's, or the page's CSS pixels), left and
// top aligned, so that tests can compute where to click; the state the
// game publishes (package client/probe) lists the same rectangles.
const (
	Margin      = 24  // around everything
	CharW       = 6   // width of one character of Ebiten's debug font
	LineH       = 16  // height of one line of it
	ButtonH     = 28  // buttons and fields
	PlayNowW    = 140 // the Play now button
	WatchW      = 200 // the Watch button, right of Play now
	TableTop    = 96  // the table's header row
	HeaderH     = 20  // the header row's height
	RowH        = 24  // one room's row
	PanelW      = 300 // the create panel, at the right
	Gap         = 24  // between the table and the panel
	MinTableW   = 240 // the table keeps this much however narrow the window
	FooterH     = 88  // the message box and the key help at the bottom
	fieldStride = ButtonH + 8
)

// Field is one of the create panel's choices.
type Field int

const (
	FieldTickRate Field = iota
	FieldCapacity
	FieldAOI
	FieldVisibility
	NumFields
)

// Layout is where everything is on a w×h screen.
type Layout struct {
	W, H    int
	PlayNow image.Rectangle
	// Watch watches the selected room as a spectator.
	Watch image.Rectangle
	// Table is the header row and the rows beneath it.
	Table  image.Rectangle
	Header image.Rectangle
	// Rows are the slots for rooms, top to bottom: as many as fit, filled
	// or not (State.Top says which room the first one shows).
	Rows   []image.Rectangle
	Panel  image.Rectangle
	Fields [NumFields]image.Rectangle
	Create image.Rectangle
	// Message is the box for errors and what the lobby is doing.
	Message image.Rectangle
	// Help is where the key help line starts.
	Help image.Point
}

// NewLayout lays the screen out for a w×h window.
func NewLayout(w, h int) Layout {
	l := Layout{W: w, H: h}
	l.PlayNow = image.Rect(Margin, 48, Margin+PlayNowW, 48+ButtonH)
	l.Watch = image.Rect(l.PlayNow.Max.X+12, 48, l.PlayNow.Max.X+12+WatchW, 48+ButtonH)

	panelX := max(w-Margin-PanelW, Margin+MinTableW+Gap)
	footerTop := max(h-FooterH, TableTop+HeaderH)
	l.Table = image.Rect(Margin, TableTop, panelX-Gap, footerTop-8)
	l.Header = image.Rect(l.Table.Min.X, TableTop, l.Table.Max.X, TableTop+HeaderH)
	n := max(0, (l.Table.Max.Y-l.Header.Max.Y)/RowH)
	l.Rows = make([]image.Rectangle, n)
	for i := range l.Rows {
		y := l.Header.Max.Y + i*RowH
		l.Rows[i] = image.Rect(l.Table.Min.X, y, l.Table.Max.X, y+RowH)
	}

	// The panel: a title line, the fields, the create button.
	y := TableTop + HeaderH + 4
	for f := range NumFields {
		l.Fields[f] = image.Rect(panelX+12, y, panelX+PanelW-12, y+ButtonH)
		y += fieldStride
	}
	l.Create = image.Rect(panelX+12, y+4, panelX+PanelW-12, y+4+ButtonH)
	l.Panel = image.Rect(panelX, TableTop, panelX+PanelW, l.Create.Max.Y+12)

	l.Message = image.Rect(Margin, footerTop, max(w-Margin, Margin+1), footerTop+3*LineH+8)
	l.Help = image.Pt(Margin, max(h-Margin, l.Message.Max.Y+4))
	return l
}

// HitKind is what a point on the screen is over.
type HitKind int

const (
	HitNothing HitKind = iota
	HitRow             // Hit.Index is the row slot (not the room)
	HitPlayNow
	HitField // Hit.Index is the Field
	HitCreate
	HitWatch
)

// Hit is what a point is over.
type Hit struct {
	Kind  HitKind
	Index int
}

// Hit says what p is over. Rectangles include their top and left edges,
// not their bottom and right ones, so neighbouring rows never share a
// pixel.
func (l Layout) Hit(p image.Point) Hit {
	switch {
	case p.In(l.PlayNow):
		return Hit{Kind: HitPlayNow}
	case p.In(l.Create):
		return Hit{Kind: HitCreate}
	case p.In(l.Watch):
		return Hit{Kind: HitWatch}
	}
	for f, r := range l.Fields {
		if p.In(r) {
			return Hit{Kind: HitField, Index: f}
		}
	}
	for i, r := range l.Rows {
		if p.In(r) {
			return Hit{Kind: HitRow, Index: i}
		}
	}
	return Hit{}
}
