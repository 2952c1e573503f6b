package arenatest

import "github.com/tickwire/tickwire/game"

// Played is a real game.World played by benchmark bots (game.Bot, the
// workload of docs/GAME.md): what the server's and the recorder's
// benchmarks tick.
type Played struct {
	World  *game.World
	IDs    []game.EntityID // the players, in the order they joined
	bots   []*game.Bot
	inputs []game.PlayerInput
}

// NewPlayed makes a world of n bots at 30 Hz (bot i has seed i).
func NewPlayed(n int) (*Played, error) {
	p := &Played{World: game.NewWorld(game.Config{}), inputs: make([]game.PlayerInput, 0, n)}
	for i := range n {
		id, err := p.World.AddPlayer()
		if err != nil {
			return nil, err
		}
		p.IDs = append(p.IDs, id)
		p.bots = append(p.bots, game.NewBot(uint64(i), 30))
	}
	return p, nil
}

// Step simulates one tick with every bot's input and writes the state
// into snap.
func (p *Played) Step(snap *game.Snapshot) {
	t := p.World.Tick() + 1
	p.inputs = p.inputs[:0]
	for i, b := range p.bots {
		p.inputs = append(p.inputs, game.PlayerInput{Player: p.IDs[i], Input: b.Next(t)})
	}
	p.World.Step(p.inputs)
	p.World.Snapshot(snap)
}
