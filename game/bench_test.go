package game

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// benchPlayers are the room sizes of the benchmarks: the default arena's
// 100 players (docs/GAME.md) and the large room.
var benchPlayers = []int{100, 1000}

// warmupTicks lets projectiles, deaths and respawns reach their steady
// state (and every buffer its final size) before timing: 10 s at 30 Hz.
const warmupTicks = 300

// BenchmarkWorldStep is one tick of the benchmark workload of docs/GAME.md
// at 30 Hz: every player a bot (held random directions, about half of
// them firing at the cooldown rate), in the arena sized for the room.
func BenchmarkWorldStep(b *testing.B) {
	for _, n := range benchPlayers {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			w, ids := newTestWorld(b, Config{MaxPlayers: n, Seed: 1}, n)
			swarm := newBotSwarm(1, w.Params().TickRate)
			for _, id := range ids {
				swarm.add(id)
			}
			ins := make([]PlayerInput, 0, n)
			step := func() {
				ins = swarm.inputs(w.Tick()+1, ins[:0])
				w.Step(ins)
			}
			for range warmupTicks {
				step()
			}
			projectiles := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
				projectiles += len(w.projectiles)
			}
			b.ReportMetric(float64(projectiles)/float64(b.N), "projectiles")
		})
	}
}

// BenchmarkRoomTick is one tick of the room loop, without the wait: drain
// every player's queued inputs, step the world, copy the state into the
// history, call the sink. Each player's packet (the input for the tick
// and two redundant copies of the previous ones) is queued outside the
// timer, as network goroutines do.
func BenchmarkRoomTick(b *testing.B) {
	for _, n := range benchPlayers {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			room, swarm := newBenchRoom(b, n)
			queue := packetQueuer(room, swarm)
			for range warmupTicks {
				queue()
				room.runTick(room.clock.Now())
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				queue()
				b.StartTimer()
				room.runTick(room.clock.Now())
			}
		})
	}
}

// packetQueuer returns a function that queues every bot's packet for the
// room's next tick: its input and two redundant copies of the previous.
func packetQueuer(room *Room, swarm *botSwarm) func() {
	var ins []PlayerInput
	packets := make(map[EntityID][]Input, len(swarm.bots))
	return func() {
		tick := room.CurrentTick() + 1
		ins = swarm.inputs(tick, ins[:0])
		for _, pi := range ins {
			p := append(packets[pi.Player][:0], pi.Input, pi.Input, pi.Input)
			p[1].Tick, p[2].Tick = tick-1, tick-2
			packets[pi.Player] = p
			room.QueueInputs(pi.Player, p)
		}
	}
}

// BenchmarkRoomQueueInputs is the network side's cost of one input packet
// (the input for the next tick and two redundant copies), with the
// room's drain of it; the world is not stepped.
func BenchmarkRoomQueueInputs(b *testing.B) {
	room, swarm := newBenchRoom(b, 1)
	id := swarm.bots[0].id
	p := make([]Input, 3)
	b.ReportAllocs()
	for b.Loop() {
		tick := room.CurrentTick() + 1
		p[0], p[1], p[2] = right(tick), right(tick-1), right(tick-2)
		room.QueueInputs(id, p)
		room.drainInputs(tick)
		room.tick.Store(tick)
	}
}

func newBenchRoom(b testing.TB, n int) (*Room, *botSwarm) {
	b.Helper()
	var baselines int
	room, err := NewRoom(RoomConfig{
		World:  Config{MaxPlayers: n, Seed: 1},
		Clock:  NewManualClock(time.Unix(0, 0)),
		Logger: slog.New(slog.DiscardHandler),
		// A sink that looks up a baseline, as the snapshot sender does.
		Sink: SinkFunc(func(cur *Snapshot, h *History) {
			if _, ok := h.At(cur.Tick - 10); ok {
				baselines++
			}
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	swarm := newBotSwarm(1, room.Params().TickRate)
	for range n {
		id, err := room.AddPlayer()
		if err != nil {
			b.Fatal(err)
		}
		swarm.add(id)
	}
	return room, swarm
}
