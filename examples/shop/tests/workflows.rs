//! shop's workflows tested with `cargo test` on the in-process test engine
//! (`inngest_devserver::testing`): no dev server, no ports, and the three days of
//! `welcome-user` pass in a moment because the test moves the clock.

use inngest_devserver::testing::{TestEngine, TestError};
use shop::events::{OrderPlaced, UserCreated};
use shop::mailer::Mailer;
use shop::workflows::{DailyReport, ProcessOrder, SendEmail, WelcomeUser};

fn user() -> UserCreated {
    UserCreated {
        id: uuid::Uuid::nil(),
        email: "ada@example.com".into(),
    }
}

#[tokio::test]
async fn welcome_user_sends_two_emails_three_days_apart() {
    let mailer = Mailer::default();
    let t = TestEngine::with_app_id("shop").register(WelcomeUser {
        mailer: mailer.clone(),
    });
    let run = t.send(user()).await.expect("the event starts a run");
    // The welcome e-mail went; the run sleeps.
    assert_eq!(mailer.sent(), 1);
    assert!(matches!(
        run.output::<()>().await,
        Err(TestError::NotFinished { .. })
    ));
    run.advance("3d").await.expect("three days pass");
    run.output::<()>().await.expect("the run completes");
    assert_eq!(mailer.sent(), 2);
    let step = run.step("send-welcome-email").await.expect("the step ran");
    assert_eq!(step.attempts(), 1);
}

#[tokio::test]
async fn a_failing_mail_server_is_retried() {
    let mailer = Mailer::default();
    let t = TestEngine::with_app_id("shop")
        .register(WelcomeUser {
            mailer: mailer.clone(),
        })
        .fail_step("send-welcome-email", 2, "smtp down");
    let run = t.send(user()).await.expect("the event starts a run");
    run.run_until_idle()
        .await
        .expect("retries and the sleep pass");
    run.output::<()>().await.expect("the run completes");
    let step = run.step("send-welcome-email").await.expect("the step ran");
    assert_eq!(step.attempts(), 3, "two failures, then the e-mail");
    assert_eq!(mailer.sent(), 2, "the failed attempts sent nothing");
}

#[tokio::test]
async fn an_order_is_charged_and_its_receipt_sent_through_send_email() {
    let mailer = Mailer::default();
    let order = OrderPlaced {
        order_id: "o_1".into(),
        email: "ada@example.com".into(),
        total_cents: 1999,
    };
    // With the real `send-email` registered …
    let t = TestEngine::with_app_id("shop")
        .register(ProcessOrder::default())
        .register(SendEmail {
            mailer: mailer.clone(),
        });
    let run = t.send(order.clone()).await.expect("a run");
    let done = run
        .output::<shop::workflows::process_order::ProcessedOrder>()
        .await
        .expect("completed");
    assert_eq!(done.charge_id, "ch_o_1");
    assert_eq!(done.receipt, "msg-1");
    assert_eq!(mailer.sent(), 1);
    // … or with it mocked, and the charge mocked too.
    let t = TestEngine::with_app_id("shop")
        .register(ProcessOrder::default())
        .mock_invoke::<SendEmail>("msg-mocked")
        .mock_step("charge-card", "ch_fake");
    let run = t.send(order).await.expect("a run");
    let done = run
        .output::<shop::workflows::process_order::ProcessedOrder>()
        .await
        .expect("completed");
    assert_eq!(
        (done.charge_id.as_str(), done.receipt.as_str()),
        ("ch_fake", "msg-mocked")
    );
}

#[tokio::test]
async fn the_daily_report_counts_the_emails() {
    let mailer = Mailer::default();
    let t = TestEngine::with_app_id("shop").register(DailyReport {
        mailer: mailer.clone(),
    });
    let run = t.tick::<DailyReport>().await.expect("a tick");
    assert_eq!(
        run.output::<String>().await.expect("completed"),
        "0 e-mails sent"
    );
}
