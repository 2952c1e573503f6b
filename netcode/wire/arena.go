package wire

import (
	"fmt"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// ArenaMessage describes the room's rules for the welcome.
func ArenaMessage(p game.Params, seed uint64) *pb.Arena {
	return &pb.Arena{
		Size: float32(p.Size), PlayerRadius: float32(p.PlayerRadius), PlayerSpeed: float32(p.PlayerSpeed),
		ProjectileSpeed: float32(p.ProjectileSpeed), ProjectileRadius: float32(p.ProjectileRadius),
		ProjectileLifetimeTicks: p.ProjectileLifetimeTicks, FireCooldownQuarterTicks: p.FireCooldownQuarterTicks,
		MaxHealth: uint32(p.MaxHealth), ProjectileDamage: uint32(p.ProjectileDamage),
		RespawnTicks: p.RespawnTicks, Seed: seed,
	}
}

// ParamsFromArena rebuilds the rules a client predicts with from the
// welcome, refusing values no server would send.
func ParamsFromArena(a *pb.Arena, tickRate int) (game.Params, error) {
	p := game.Params{
		TickRate: tickRate, Size: float64(a.GetSize()), PlayerRadius: float64(a.GetPlayerRadius()),
		PlayerSpeed: float64(a.GetPlayerSpeed()), ProjectileSpeed: float64(a.GetProjectileSpeed()),
		ProjectileRadius: float64(a.GetProjectileRadius()), ProjectileLifetimeTicks: a.GetProjectileLifetimeTicks(),
		FireCooldownQuarterTicks: a.GetFireCooldownQuarterTicks(), MaxHealth: int32(min(a.GetMaxHealth(), 1<<20)),
		ProjectileDamage: int32(min(a.GetProjectileDamage(), 1<<20)), RespawnTicks: a.GetRespawnTicks(),
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("arena parameters: %w", err)
	}
	return p, nil
}
