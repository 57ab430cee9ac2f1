import java.io.IOException;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local bound to 127.0.0.1. Its command line has no bind address and its Jetty server
 * listens on every interface, where anyone who can reach the machine could read and change the
 * local platform's tables without credentials. This builds the server from the same arguments,
 * sets its connectors' host to the loopback address before it starts, and starts it.
 *
 * With -Dwebhooks.exitWithParent=true it also exits when its standard input ends, which is when
 * the process that started it (and holds the other end of the pipe) is gone for any reason,
 * SIGKILL included: killed together with local mode, it would otherwise run on for good, holding
 * the data directory's files and its memory.
 */
public class LoopbackDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    if (Boolean.getBoolean("webhooks.exitWithParent")) {
      Thread watch =
          new Thread(
              () -> {
                try {
                  while (System.in.read() != -1) {
                    // nothing is ever written; only the end matters
                  }
                } catch (IOException e) {
                  // a broken pipe ends it too
                }
                System.exit(0);
              },
              "exit-with-parent");
      watch.setDaemon(true);
      watch.start();
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    if (proxy == null) {
      System.err.println("DynamoDB Local refused its arguments");
      System.exit(2);
    }
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) {
      ((ServerConnector) connector).setHost("127.0.0.1");
    }
    proxy.start();
  }
}
