//! The audit trail in a real PostgreSQL: workflow transitions land in it with
//! their events, rows are sealed into a hash chain, the database refuses to
//! change or remove them, and tampering behind its back is found.

mod common;

use common::{Fixture, at};
use homecare_store::audit;
use sqlx::PgPool;

async fn audited_visit(fx: &Fixture) {
    let maria = fx.caregiver("Maria", &[]).await;
    let visit = fx.visit(at(9, 0), at(10, 0), &[]).await;
    fx.work(visit, maria, at(9, 0), at(10, 0)).await;
}

async fn sql(db: &PgPool, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(db).await.map(|_| ())
}

#[sqlx::test(migrations = "../migrations")]
async fn workflow_transitions_are_audited_sealed_and_verified(db: PgPool) {
    let fx = Fixture::new(db).await;
    audited_visit(&fx).await;
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_log where actor = 'workflow' order by seq")
            .fetch_all(fx.db())
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "homecare.visit.assigned",
            "homecare.visit.checked_in",
            "homecare.visit.completed"
        ]
    );
    let before = audit::verify(fx.db()).await.unwrap();
    assert_eq!((before.sealed, before.unsealed), (0, 3));
    assert_eq!(audit::seal(fx.db(), 2).await.unwrap(), 2);
    assert_eq!(audit::seal(fx.db(), 1000).await.unwrap(), 1);
    let report = audit::verify(fx.db()).await.unwrap();
    assert_eq!(
        (report.sealed, report.unsealed, report.first_break),
        (3, 0, None)
    );
    let head: String = sqlx::query_scalar("select hash from audit_log where position = 3")
        .fetch_one(fx.db())
        .await
        .unwrap();
    assert_eq!(report.head_hash, head);
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_to_change_or_remove_audit_rows(db: PgPool) {
    let fx = Fixture::new(db).await;
    audited_visit(&fx).await;
    audit::seal(fx.db(), 1000).await.unwrap();
    for statement in [
        "update audit_log set actor = 'mallory' where position = 1",
        "delete from audit_log where position = 1",
        "truncate audit_log",
        // Sealing happens once: a sealed row cannot be re-sealed.
        "update audit_log set hash = repeat('a', 64) where position = 1",
    ] {
        let refused = sql(fx.db(), statement).await.expect_err(statement);
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    // An unsealed row cannot be sealed anywhere but as the next link, even
    // with a hash that matches the forged position.
    sql(
        fx.db(),
        "insert into audit_log (actor, role, action, entity_type, digest)
         values ('someone', 'admin', 'POST /v1/clients', 'clients', repeat('c', 64))",
    )
    .await
    .unwrap();
    for statement in [
        "update audit_log a set position = 999, prev_hash = repeat('a', 64),
                hash = audit_log_row_hash(row(a.seq, a.at, a.actor, a.role, a.action, a.entity_type,
                    a.entity_id, a.request_id, a.status, a.digest, 999, repeat('a', 64), null)::audit_log)
          where hash is null",
        "update audit_log a set position = 4, prev_hash = repeat('a', 64),
                hash = audit_log_row_hash(row(a.seq, a.at, a.actor, a.role, a.action, a.entity_type,
                    a.entity_id, a.request_id, a.status, a.digest, 4, repeat('a', 64), null)::audit_log)
          where hash is null",
    ] {
        let refused = sql(fx.db(), statement).await.expect_err(statement);
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    // The sealer seals it properly.
    assert_eq!(audit::seal(fx.db(), 1000).await.unwrap(), 1);
    let report = audit::verify(fx.db()).await.unwrap();
    assert_eq!((report.sealed, report.first_break), (4, None));
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_row_changed_behind_the_databases_back_breaks_the_chain_where_it_was_changed(db: PgPool) {
    let fx = Fixture::new(db).await;
    audited_visit(&fx).await;
    audit::seal(fx.db(), 1000).await.unwrap();
    // A superuser switches the guard off: the chain still tells.
    sql(
        fx.db(),
        "alter table audit_log disable trigger audit_log_no_update",
    )
    .await
    .unwrap();
    sql(
        fx.db(),
        "update audit_log set actor = 'mallory' where position = 2",
    )
    .await
    .unwrap();
    let broken = audit::verify(fx.db())
        .await
        .unwrap()
        .first_break
        .expect("tampering found");
    assert_eq!(broken.position, 2);
    assert!(broken.reason.contains("content"), "{}", broken.reason);
    // Re-hashing the changed row moves the break to the next link.
    sql(
        fx.db(),
        "update audit_log a set hash = audit_log_row_hash(a) where position = 2",
    )
    .await
    .unwrap();
    let broken = audit::verify(fx.db())
        .await
        .unwrap()
        .first_break
        .expect("still found");
    assert_eq!(broken.position, 3);
    assert!(broken.reason.contains("previous hash"), "{}", broken.reason);
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_removed_row_leaves_a_gap_in_the_chain(db: PgPool) {
    let fx = Fixture::new(db).await;
    audited_visit(&fx).await;
    audit::seal(fx.db(), 1000).await.unwrap();
    sql(
        fx.db(),
        "alter table audit_log disable trigger audit_log_no_delete",
    )
    .await
    .unwrap();
    sql(fx.db(), "delete from audit_log where position = 2")
        .await
        .unwrap();
    let broken = audit::verify(fx.db())
        .await
        .unwrap()
        .first_break
        .expect("the gap is found");
    assert_eq!(broken.position, 3);
    assert!(
        broken.reason.contains("position 2 is missing"),
        "{}",
        broken.reason
    );
    fx.cleanup().await;
}
