//! The switches' room shared between campaigns that want more calls than
//! it holds: by weight, with no room left idle while a campaign still
//! wants some.
//!
//! Room mostly comes back one call at a time (a call ends, a slot of the
//! pace refills), so a share computed afresh each round would give that
//! one call to the same campaign every time. Each campaign keeps a credit
//! across rounds instead (smooth weighted round-robin, as nginx balances
//! its upstreams): every call handed out raises each campaign still
//! wanting by its weight, goes to the highest credit, and costs it the
//! weights' sum. Over many rounds the calls follow the weights however
//! the room comes; within one round they follow them to a call.

/// How many of `room` calls each campaign places, from `(weight, wants)`
/// in the same order; `credits` (one per campaign, kept by the caller
/// between rounds, 0 for a new one) carry what each is owed. Weights at
/// or under zero count as the smallest positive weight there is, so that
/// no running campaign is starved.
pub fn share_by_weight(wants: &[(f64, usize)], room: usize, credits: &mut [f64]) -> Vec<usize> {
    debug_assert_eq!(wants.len(), credits.len());
    let total: usize = wants.iter().map(|&(_, n)| n).sum();
    if total <= room {
        return wants.iter().map(|&(_, n)| n).collect();
    }
    let weights = effective(wants);
    let mut given = vec![0usize; wants.len()];
    for _ in 0..room {
        let mut sum = 0.0;
        let mut best: Option<(usize, f64)> = None;
        for (i, ((&(_, n), w), c)) in wants
            .iter()
            .zip(&weights)
            .zip(credits.iter_mut())
            .enumerate()
        {
            if given[i] >= n {
                continue;
            }
            *c += w;
            sum += w;
            if best.is_none_or(|(_, top)| *c > top) {
                best = Some((i, *c));
            }
        }
        let Some((b, _)) = best else {
            break;
        };
        given[b] += 1;
        if let Some(c) = credits.get_mut(b) {
            *c -= sum;
        }
    }
    given
}

/// Undoes `calls` of the calls `share_by_weight` gave campaign `who` that
/// were never placed (no claim job was free, no switch took them), so
/// that what it was owed is owed again: otherwise a campaign that comes
/// later in the round, and so more often finds the claim jobs taken,
/// would pay for calls it never made and drift under its weight.
pub fn give_back(wants: &[(f64, usize)], credits: &mut [f64], who: usize, calls: usize) {
    debug_assert_eq!(wants.len(), credits.len());
    if calls == 0 || who >= credits.len() {
        return;
    }
    let weights = effective(wants);
    let sum: f64 = weights.iter().sum();
    for (c, w) in credits.iter_mut().zip(&weights) {
        *c -= w * calls as f64;
    }
    credits[who] += sum * calls as f64;
}

/// The weights as shared: at or under zero (or not a number), the smallest
/// positive weight there is, so that no running campaign is starved.
fn effective(wants: &[(f64, usize)]) -> Vec<f64> {
    let usable = |w: f64| w.is_finite() && w > 0.0;
    let floor = wants
        .iter()
        .map(|&(w, _)| w)
        .filter(|&w| usable(w))
        .fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { 1.0 };
    wants
        .iter()
        .map(|&(w, _)| if usable(w) { w } else { floor })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn once(wants: &[(f64, usize)], room: usize) -> Vec<usize> {
        share_by_weight(wants, room, &mut vec![0.0; wants.len()])
    }

    #[test]
    fn the_room_goes_by_weight_when_both_want_more() {
        assert_eq!(once(&[(1.0, 100), (3.0, 100)], 40), vec![10, 30]);
    }

    #[test]
    fn what_one_campaign_leaves_goes_to_the_others() {
        // Weight 3 of 4 would be 30 of 40; it wants 2, so the other gets 38.
        assert_eq!(once(&[(3.0, 2), (1.0, 100)], 40), vec![2, 38]);
    }

    #[test]
    fn everyone_gets_all_when_the_room_holds_it() {
        assert_eq!(once(&[(1.0, 3), (5.0, 4)], 7), vec![3, 4]);
    }

    #[test]
    fn room_that_comes_back_one_call_at_a_time_still_follows_the_weights() {
        let wants = [(1.0, 50), (3.0, 50)];
        let mut credits = [0.0, 0.0];
        let mut got = [0, 0];
        for _ in 0..400 {
            let g = share_by_weight(&wants, 1, &mut credits);
            got[0] += g[0];
            got[1] += g[1];
        }
        assert_eq!(got, [100, 300]);
    }

    #[test]
    fn calls_given_back_are_owed_again() {
        // Rounds of two calls where the second campaign's share is never
        // placed half of the time: given back, it still gets 3 of every 4
        // calls that are placed.
        let wants = [(1.0, 50), (3.0, 50)];
        let mut credits = [0.0, 0.0];
        let mut placed = [0, 0];
        for round in 0..400 {
            let g = share_by_weight(&wants, 2, &mut credits);
            placed[0] += g[0];
            if round % 2 == 0 {
                give_back(&wants, &mut credits, 1, g[1]);
            } else {
                placed[1] += g[1];
            }
        }
        let share = placed[1] as f64 / (placed[0] + placed[1]) as f64;
        assert!((share - 0.75).abs() < 0.01, "{placed:?}");
    }

    #[test]
    fn a_campaign_without_a_weight_is_not_starved() {
        let got = once(&[(0.0, 50), (1.0, 50), (f64::NAN, 50)], 30);
        assert_eq!(got, vec![10, 10, 10]);
    }

    proptest! {
        #[test]
        fn the_share_uses_the_room_keeps_to_the_wants_and_follows_the_weights(
            wants in proptest::collection::vec((0.1f64..10.0, 0usize..200), 1..6),
            rooms in proptest::collection::vec(0usize..60, 1..20),
        ) {
            let mut credits = vec![0.0; wants.len()];
            let mut got = vec![0usize; wants.len()];
            for &room in &rooms {
                let g = share_by_weight(&wants, room, &mut credits);
                let total: usize = wants.iter().map(|w| w.1).sum();
                // No room idle while a campaign still wants some.
                prop_assert_eq!(g.iter().sum::<usize>(), total.min(room));
                for (i, (n, want)) in g.iter().zip(&wants).enumerate() {
                    prop_assert!(*n <= want.1);
                    got[i] += n;
                }
            }
            // Two campaigns that wanted more than they got in every round:
            // their calls over all rounds follow their weights, to within
            // a call or two.
            let starved: Vec<usize> = (0..wants.len())
                .filter(|&i| rooms.iter().all(|&r| {
                    let total: usize = wants.iter().map(|w| w.1).sum();
                    total > r
                }) && wants[i].1 > rooms.iter().sum::<usize>())
                .collect();
            for &a in &starved {
                for &b in &starved {
                    let (wa, wb) = (wants[a].0, wants[b].0);
                    let fair = (got[a] + got[b]) as f64 * wa / (wa + wb);
                    prop_assert!((got[a] as f64 - fair).abs() <= 2.0,
                        "{got:?} for {wants:?} rooms {rooms:?}");
                }
            }
        }
    }
}
