//! The demo's sample data: customers with names in several scripts, tiers
//! and a few VIPs, agents with their tokens, and the campaign.

use super::DemoOptions;
use crate::campaign::intake::{Intake, TaskInput};
use crate::dialer::window::CallingWindow;
use crate::store::{
    Agent, Campaign, CampaignSettings, CampaignState, Customer, DncEntry, NewTask, Store, now_ms,
    token_hash,
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

/// A second campaign, not worked by the demo's agents, to show calling
/// windows: customers in three countries, each task due at the next 18:00
/// in the customer's own zone (`GET /api/outbound/tasks?campaign=evening`).
async fn seed_evening(store: &Arc<dyn Store>, now: i64) -> anyhow::Result<()> {
    let window: CallingWindow = serde_json::from_value(serde_json::json!({
        "mon": ["18:00-21:00"], "tue": ["18:00-21:00"], "wed": ["18:00-21:00"],
        "thu": ["18:00-21:00"], "fri": ["18:00-21:00"], "sat": ["10:00-13:00"],
        "holidays": ["2026-12-25", "2027-01-01"]
    }))?;
    let campaign = Campaign {
        id: "evening".into(),
        name: "Evening calls (calling windows)".into(),
        state: CampaignState::Paused,
        settings: CampaignSettings {
            calling_window: Some(window),
            time_zone: "America/New_York".into(),
            ..CampaignSettings::default()
        },
        created_ms: now,
        updated_ms: now,
    };
    store.insert_campaign(&campaign).await?;
    let intake = Intake::new(campaign);
    let mut tasks = Vec::new();
    for (i, phone) in [
        "+33 1 42 68 53 00",
        "+81 3-3224-9999",
        "+1 212 736 5000",
        "+49 30 1234567",
    ]
    .into_iter()
    .enumerate()
    {
        let input = TaskInput {
            customer_id: format!("evening{i}"),
            phone: phone.into(),
            ..TaskInput::default()
        };
        tasks.push(
            intake
                .task(&input, now, None)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    store.add_tasks(&tasks).await?;
    Ok(())
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
    let mut phones = Vec::with_capacity(opts.customers);
    for i in 0..opts.customers {
        let c = customer(i, &mut rng);
        phones.push(c.phone.clone());
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
    // One customer in fifty asked not to be called: their tasks are refused
    // before anything is dialed, each with its recorded reason.
    let listed: Vec<DncEntry> = (0..opts.customers)
        .step_by(50)
        .skip(1)
        .filter(|i| opts.tasks.is_none_or(|n| *i < n))
        .filter_map(|i| phones.get(i).cloned())
        .map(|phone| DncEntry {
            phone,
            campaign_id: None,
            reason: Some("asked not to be called (demo)".into()),
            added_ms: now,
        })
        .collect();
    store.add_dnc(&listed).await?;
    seed_evening(store, now).await?;
    let mut agents = Vec::new();
    for i in 0..opts.agents {
        let a = Agent::of(
            &format!("agent{:03}", i + 1),
            &format!("{} (agent {})", GIVEN[i % GIVEN.len()], i + 1),
            &format!("8{:03}", i % 1000),
            CAMPAIGN,
        );
        let t = token(&mut rng);
        store.upsert_agent(&a, &token_hash(&t)).await?;
        agents.push((a, t));
    }
    Ok(agents)
}
