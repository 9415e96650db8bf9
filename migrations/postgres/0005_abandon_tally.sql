-- The people (answered or abandoned) and the abandons of each campaign's
-- calls, by the hour they ended. The 30-day cap window of a predictive
-- campaign is read every few seconds: from here it is some 720 rows a
-- campaign, not every attempt of the month. Kept by the write that closes
-- an attempt, in the same transaction.
CREATE TABLE abandon_tally (
    campaign_id TEXT NOT NULL,
    hour_ms     BIGINT NOT NULL,
    people      BIGINT NOT NULL,
    abandoned   BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, hour_ms)
);
INSERT INTO abandon_tally (campaign_id, hour_ms, people, abandoned)
SELECT t.campaign_id, (a.hangup_ms / 3600000) * 3600000, COUNT(*),
       COUNT(CASE WHEN a.outcome = 'abandoned' THEN 1 END)
FROM attempts a JOIN tasks t ON t.id = a.task_id
WHERE a.hangup_ms IS NOT NULL AND a.outcome IN ('answered', 'abandoned')
GROUP BY t.campaign_id, (a.hangup_ms / 3600000) * 3600000;
