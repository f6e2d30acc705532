//! The simulated network's shape, from the real division table: one node per division (or a
//! subtree of one city or county, and a seeded share of the villages), each node's parent its
//! real parent, each link the one between a node and its parent.

use lingong_protocol::region::{Level, RegionCode, divisions};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One division kept in the run.
#[derive(Clone, Debug)]
pub struct Place {
    pub region: RegionCode,
    pub level: Level,
    /// Index of the parent in the run (`None` for the top node).
    pub parent: Option<u32>,
    pub children: Vec<u32>,
}

/// The kept divisions in table order (every parent before its children).
#[derive(Clone, Debug)]
pub struct Topology {
    pub places: Vec<Place>,
}

impl Topology {
    /// Builds the topology: `only` ("" for the whole province) names the top division;
    /// `villages_share` keeps that share of villages, chosen with `rng`.
    pub fn build(only: &str, villages_share: f64, rng: &mut ChaCha8Rng) -> anyhow::Result<Self> {
        let table = divisions();
        let top = if only.is_empty() {
            RegionCode::GUIZHOU
        } else {
            let code =
                RegionCode::parse(only).map_err(|e| anyhow::anyhow!("--only {only}: {e}"))?;
            anyhow::ensure!(
                table.get(&code).is_some(),
                "--only {only}: no such division in the table"
            );
            anyhow::ensure!(
                matches!(code.level(), Level::Province | Level::City | Level::County),
                "--only takes a city or county code, not a {}",
                code.level()
            );
            code
        };
        let mut places: Vec<Place> = Vec::new();
        let mut index = std::collections::BTreeMap::new();
        for d in table.iter() {
            if !top.contains(&d.code) {
                continue;
            }
            if d.level == Level::Village && villages_share < 1.0 {
                let keep = rng.random::<f64>() < villages_share;
                if !keep {
                    continue;
                }
            }
            let parent = if d.code == top {
                None
            } else {
                match d.parent.and_then(|p| index.get(&p).copied()) {
                    Some(p) => Some(p),
                    None => continue,
                }
            };
            let i = places.len() as u32;
            if let Some(p) = parent {
                places[p as usize].children.push(i);
            }
            index.insert(d.code, i);
            places.push(Place {
                region: d.code,
                level: d.level,
                parent,
                children: Vec::new(),
            });
        }
        Ok(Topology { places })
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Number of kept divisions at each depth.
    pub fn count_by_level(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for p in &self.places {
            c[usize::from(p.level.depth())] += 1;
        }
        c
    }

    /// Every node in the subtree of `i` (itself included).
    pub fn subtree(&self, i: u32, out: &mut Vec<u32>) {
        let start = out.len();
        out.push(i);
        let mut k = start;
        while k < out.len() {
            let n = out[k];
            out.extend_from_slice(&self.places[n as usize].children);
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_whole_province_has_every_real_division_with_its_real_parent() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t = Topology::build("", 1.0, &mut rng).unwrap();
        assert_eq!(t.count_by_level(), [1, 9, 88, 1510, 17964]);
        for p in &t.places[1..] {
            let parent = &t.places[p.parent.unwrap() as usize];
            assert_eq!(Some(parent.region), p.region.parent());
        }
    }

    #[test]
    fn only_keeps_one_county_and_a_share_of_its_villages() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let full = Topology::build("520102", 1.0, &mut rng).unwrap();
        let half = Topology::build("520102", 0.5, &mut rng).unwrap();
        assert_eq!(full.places[0].region.to_string(), "520102");
        assert!(
            full.places
                .iter()
                .all(|p| full.places[0].region.contains(&p.region))
        );
        assert!(half.len() < full.len());
        assert!(Topology::build("520102001", 1.0, &mut rng).is_err());
    }
}
