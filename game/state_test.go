package game

import "testing"

func TestFindPlayerFindsByIDInASortedList(t *testing.T) {
	players := []Player{{ID: 2}, {ID: 5}, {ID: 9}}
	for _, tc := range []struct {
		id    EntityID
		index int
		found bool
	}{
		{2, 0, true}, {5, 1, true}, {9, 2, true},
		{1, 0, false}, {3, 1, false}, {10, 3, false},
	} {
		i, ok := FindPlayer(players, tc.id)
		if i != tc.index || ok != tc.found {
			t.Errorf("FindPlayer(%d) = %d, %v; want %d, %v", tc.id, i, ok, tc.index, tc.found)
		}
	}
	if _, ok := FindPlayer(nil, 1); ok {
		t.Error("found a player in an empty list")
	}
}
