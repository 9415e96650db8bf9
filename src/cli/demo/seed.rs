//! The demo's sample data: customers with names in several scripts, tiers
//! and a few VIPs, agents with their tokens, and the campaign.

use super::DemoOptions;
use crate::store::{
    Agent, Campaign, CampaignSettings, CampaignState, Customer, NewTask, Store, now_ms, token_hash,
};
use rand::{Rng, RngExt, SeedableRng};
use std::sync::Arc;

pub const CAMPAIGN: &str = "demo";

/// Names in several scripts, as a real customer base has them.
const GIVEN: &[&str] = &[
    "王芳",
    "李伟",
    "张敏",
    "陈静",
    "Ana",
    "João",
    "Zoë",
    "Mehmet",
    "Fatima",
    "Олег",
    "Наталья",
    "أحمد",
    "فاطمة",
    "Priya",
    "राहुल",
    "Yuki",
    "さくら",
    "Liam",
    "Chloé",
    "Søren",
    "Nguyễn",
    "Kwame",
    "Aroha",
    "Mateo",
];
const FAMILY: &[&str] = &[
    "",
    "",
    "",
    "",
    "Lima",
    "Silva",
    "O'Brien",
    "Yılmaz",
    "Haddad",
    "Иванов",
    "Петрова",
    "الحسن",
    "Sharma",
    "Tanaka",
    "Dubois",
    "Jensen",
    "Văn An",
    "Mensah",
    "Ngata",
    "García",
];
const TIERS: &[&str] = &["bronze", "silver", "silver", "gold", "gold", "platinum"];
const CITIES: &[&str] = &[
    "上海",
    "São Paulo",
    "İstanbul",
    "Москва",
    "القاهرة",
    "Mumbai",
    "東京",
    "Paris",
    "Accra",
    "Auckland",
];

/// A customer number whose last four digits pick the simulated outcome
/// (the lab scenario): mostly answered, some busy, unanswered, congested.
fn phone_for(rng: &mut impl Rng) -> String {
    let r: u32 = rng.random_range(0..100);
    let lead = match r {
        0..=69 => 1,  // answers, talks 5 s
        70..=79 => 5, // answers, talks 60 s
        80..=89 => 2, // busy
        90..=94 => 3, // no answer
        _ => 4,       // congestion
    };
    format!(
        "+1555{:03}{lead}{:03}",
        rng.random_range(0..1000),
        rng.random_range(0..1000)
    )
}

fn customer(i: usize, rng: &mut impl Rng) -> Customer {
    let given = GIVEN[rng.random_range(0..GIVEN.len())];
    let family = FAMILY[rng.random_range(0..FAMILY.len())];
    let name = if family.is_empty() || given.chars().any(|c| c as u32 >= 0x3000) {
        // CJK names stand alone here (family name first, no space).
        given.to_string()
    } else {
        format!("{given} {family}")
    };
    let mut fields = serde_json::Map::new();
    fields.insert(
        "city".into(),
        CITIES[rng.random_range(0..CITIES.len())].into(),
    );
    fields.insert("open_orders".into(), rng.random_range(0..6u32).into());
    fields.insert(
        "lifetime_value".into(),
        format!(
            "{}.{:02}",
            rng.random_range(20..20000u32),
            rng.random_range(0..100u32)
        )
        .into(),
    );
    fields.insert(
        "last_contact".into(),
        format!(
            "2026-{:02}-{:02}",
            rng.random_range(1..11u32),
            rng.random_range(1..28u32)
        )
        .into(),
    );
    Customer {
        id: format!("c{i:06}"),
        name,
        phone: phone_for(rng),
        email: Some(format!("customer{i}@example.com")),
        tier: Some(TIERS[rng.random_range(0..TIERS.len())].to_string()),
        vip: rng.random_range(0..100u32) < 5,
        fields,
    }
}

pub fn token(rng: &mut impl Rng) -> String {
    (0..32)
        .map(|_| format!("{:02x}", rng.random_range(0..=255u8)))
        .collect()
}

/// Seeds the store; returns each agent with its token.
pub async fn seed(
    store: &Arc<dyn Store>,
    opts: &DemoOptions,
) -> anyhow::Result<Vec<(Agent, String)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let now = now_ms();
    store
        .insert_campaign(&Campaign {
            id: CAMPAIGN.into(),
            name: "Demo outbound".into(),
            state: CampaignState::Running,
            // Busy and unanswered numbers get one more try, 30 s later.
            settings: CampaignSettings::with_retries(2, 30.0 / opts.speed),
            created_ms: now,
            updated_ms: now,
        })
        .await?;
    for i in 0..opts.customers {
        let c = customer(i, &mut rng);
        store.upsert_customer(&c).await?;
        if opts.tasks.is_some_and(|n| i >= n) {
            continue;
        }
        store
            .add_task(&NewTask {
                campaign_id: CAMPAIGN.into(),
                customer_id: c.id.clone(),
                phone: c.phone.clone(),
                priority: if c.vip { 10 } else { 0 },
                due_ms: now,
                ..NewTask::default()
            })
            .await?;
    }
    let mut agents = Vec::new();
    for i in 0..opts.agents {
        let a = Agent {
            id: format!("agent{:03}", i + 1),
            name: format!("{} (agent {})", GIVEN[i % GIVEN.len()], i + 1),
            extension: format!("8{:03}", i % 1000),
            campaign_id: CAMPAIGN.into(),
        };
        let t = token(&mut rng);
        store.upsert_agent(&a, &token_hash(&t)).await?;
        agents.push((a, t));
    }
    Ok(agents)
}
