//! The seed's three scenarios for the demo. Each is a foreign system (a
//! bank's core, a shop's order database, a school's lead CRM) in an SQLite
//! file of its own with its own column names: `config/scenarios/<name>.sql`
//! is its schema, `config/scenarios/<name>.toml` the sources that map it to
//! dialpop's fields, `config/templates/<name>.json` the screen that draws
//! them. The demo's customers get a row there; agents alternate between
//! the novice and senior levels, so both versions of the screen are seen.

use crate::customer::config::{SourceConfig, parse_sources};
use crate::store::Customer;
use rand::{Rng, RngExt, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Credit score, outstanding loan, instalment offers, repayments.
    Finance,
    /// Membership, orders with their logistics status, open returns.
    Ecommerce,
    /// Lead source, course of interest, trial lessons, consultations.
    Education,
}

/// Where the demo's database goes in a scenario's sources.
const DB_MARK: &str = "{scenario_db}";

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Finance => "finance",
            Scenario::Ecommerce => "ecommerce",
            Scenario::Education => "education",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Scenario::Finance => include_str!("../../../config/scenarios/finance.sql"),
            Scenario::Ecommerce => include_str!("../../../config/scenarios/ecommerce.sql"),
            Scenario::Education => include_str!("../../../config/scenarios/education.sql"),
        }
    }

    fn sources_text(self) -> &'static str {
        match self {
            Scenario::Finance => include_str!("../../../config/scenarios/finance.toml"),
            Scenario::Ecommerce => include_str!("../../../config/scenarios/ecommerce.toml"),
            Scenario::Education => include_str!("../../../config/scenarios/education.toml"),
        }
    }

    /// The screen, as the campaign's default template.
    pub fn template(self) -> Result<serde_json::Value, String> {
        let text = match self {
            Scenario::Finance => include_str!("../../../config/templates/finance.json"),
            Scenario::Ecommerce => include_str!("../../../config/templates/ecommerce.json"),
            Scenario::Education => include_str!("../../../config/templates/education.json"),
        };
        serde_json::from_str(text).map_err(|e| format!("{} template: {e}", self.name()))
    }

    /// The scenario's sources, reading the database at `db_url`.
    pub fn sources(self, db_url: &str) -> Result<Vec<SourceConfig>, String> {
        parse_sources(&self.sources_text().replace(DB_MARK, db_url))
            .map_err(|e| format!("config/scenarios/{}.toml: {e}", self.name()))
    }
}

/// Creates the scenario's database at `path` with a row (and its history)
/// for each customer; answers its URL.
pub async fn create(
    scenario: Scenario,
    path: &Path,
    customers: &[Customer],
    seed: u64,
) -> anyhow::Result<String> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str(&url)?.create_if_missing(true))
        .await?;
    sqlx::raw_sql(scenario.schema()).execute(&pool).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5ce7a510);
    let mut tx = pool.begin().await?;
    for c in customers {
        match scenario {
            Scenario::Finance => finance(&mut tx, c, &mut rng).await?,
            Scenario::Ecommerce => ecommerce(&mut tx, c, &mut rng).await?,
            Scenario::Education => education(&mut tx, c, &mut rng).await?,
        }
    }
    tx.commit().await?;
    pool.close().await;
    Ok(url)
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

fn pick<'a>(rng: &mut impl Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn yuan(rng: &mut impl Rng, min: u32, max: u32) -> String {
    format!(
        "{}.{:02}",
        rng.random_range(min..max),
        rng.random_range(0..100u32)
    )
}

/// A day of 2026 (months 1 to 11), as `YYYY-MM-DD`.
fn day(rng: &mut impl Rng) -> String {
    format!(
        "2026-{:02}-{:02}",
        rng.random_range(1..12u32),
        rng.random_range(1..29u32)
    )
}

const MANAGERS: &[(&str, &str)] = &[
    ("周晓明", "+862160001234"),
    ("吴婷", "+862160005678"),
    ("郑浩", "+861085551122"),
];

async fn finance(tx: &mut Tx<'_>, c: &Customer, rng: &mut impl Rng) -> anyhow::Result<()> {
    let score: i64 = rng.random_range(520..830);
    let grade = match c.tier.as_deref() {
        Some("platinum") => "私人银行",
        Some("gold") => "财富客户",
        Some("silver") => "优选客户",
        _ => "普通客户",
    };
    let manager = c.vip.then(|| MANAGERS[rng.random_range(0..MANAGERS.len())]);
    // An instalment plan is offered only from a score of 650 up (the
    // template's block shows it under the same rule).
    let offer = (score >= 650).then(|| {
        (
            [6i64, 12, 24][rng.random_range(0..3usize)],
            ["0.35", "0.45", "0.55"][rng.random_range(0..3usize)],
        )
    });
    sqlx::query(
        "INSERT INTO cust_info (cust_no, cust_nm, mobile_no, cust_grade, vip_ind, crdt_score, loan_bal, rm_nm, rm_tel, instl_terms, instl_rate, next_due_dt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.phone)
    .bind(grade)
    .bind(i64::from(c.vip))
    .bind(score)
    .bind(yuan(rng, 0, 200_000))
    .bind(manager.map(|m| m.0))
    .bind(manager.map(|m| m.1))
    .bind(offer.map(|o| o.0))
    .bind(offer.map(|o| o.1))
    .bind(format!("2026-12-{:02}", rng.random_range(5..29u32)))
    .execute(&mut **tx)
    .await?;
    for month in 1..=rng.random_range(0..9u32) {
        sqlx::query("INSERT INTO repay_plan (cust_no, due_dt, amt, repay_sts) VALUES (?, ?, ?, ?)")
            .bind(&c.id)
            .bind(format!("2026-{:02}-15", 12 - month))
            .bind(yuan(rng, 800, 6_000))
            .bind(pick(
                rng,
                &["已还清", "已还清", "已还清", "部分还款", "逾期"],
            ))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn ecommerce(tx: &mut Tx<'_>, c: &Customer, rng: &mut impl Rng) -> anyhow::Result<()> {
    let level = match c.tier.as_deref() {
        Some("platinum") => "钻石会员",
        Some("gold") => "金卡会员",
        Some("silver") => "银卡会员",
        _ => "普通会员",
    };
    // One member in six has a return under way.
    let open_return = (rng.random_range(0..6u32) == 0).then(|| {
        (
            format!("RT2026{:08}", rng.random_range(0..100_000_000u32)),
            pick(rng, &["待寄回", "已收货，退款中", "待审核"]),
        )
    });
    sqlx::query(
        "INSERT INTO member (member_id, nick_name, mobile, member_level, is_vip, total_spent, service_rep, return_no, return_state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.phone)
    .bind(level)
    .bind(i64::from(c.vip))
    .bind(yuan(rng, 50, 80_000))
    .bind(c.vip.then(|| pick(rng, &["小美", "小林", "阿杰"])))
    .bind(open_return.as_ref().map(|r| r.0.clone()))
    .bind(open_return.map(|r| r.1))
    .execute(&mut **tx)
    .await?;
    for _ in 0..rng.random_range(0..12u32) {
        sqlx::query(
            "INSERT INTO trade_order (member_id, order_no, pay_amt, created_at, logistics_state) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(format!("DD2026{:010}", rng.random_range(0..10_000_000_000u64)))
        .bind(yuan(rng, 9, 3_000))
        .bind(day(rng))
        .bind(pick(rng, &["已签收", "已签收", "运输中", "派送中", "待发货"]))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn education(tx: &mut Tx<'_>, c: &Customer, rng: &mut impl Rng) -> anyhow::Result<()> {
    let trial = (rng.random_range(0..3u32) == 0).then(|| {
        format!(
            "2026-12-{:02}T{:02}:{}:00+08:00",
            rng.random_range(3..28u32),
            rng.random_range(9..20u32),
            pick(rng, &["00", "30"])
        )
    });
    sqlx::query(
        "INSERT INTO lead (lead_id, stu_name, mobile, channel, intent_course, trial_flag, trial_time, consultant)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.phone)
    .bind(pick(rng, &["抖音广告", "百度搜索", "老学员推荐", "线下讲座", "微信公众号"]))
    .bind(pick(rng, &["少儿编程", "雅思冲刺", "考研数学", "Python 入门", "商务英语"]))
    .bind(i64::from(trial.is_some()))
    .bind(trial)
    .bind(pick(rng, &["陈老师", "刘老师", "黄老师"]))
    .execute(&mut **tx)
    .await?;
    for _ in 0..rng.random_range(0..6u32) {
        sqlx::query(
            "INSERT INTO consult_log (lead_id, consult_time, topic, result) VALUES (?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(format!(
            "{}T{:02}:{:02}:00+08:00",
            day(rng),
            rng.random_range(9..21u32),
            rng.random_range(0..60u32)
        ))
        .bind(pick(
            rng,
            &["课程价格", "上课时间", "师资介绍", "试听安排", "退费政策"],
        ))
        .bind(pick(rng, &["有意向", "需再跟进", "已报名", "暂不考虑"]))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
